"""The server: composition root (app, CLI, settings), the SCIM 2.0 layer and the admin API."""
