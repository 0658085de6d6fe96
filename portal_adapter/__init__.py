"""The portal's side of centralized user management.

Accounts, roles, organizations, groups, provider identities, integration settings and
the rules that tie them together. It imports none of the adapters (``scim_server``,
``auth``), no Flask request globals, no ``scim2_models`` and no ``authlib``; every
function takes the SQLAlchemy session first and never commits.
"""
