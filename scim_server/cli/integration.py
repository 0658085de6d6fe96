"""``uniview-idm integration``: read and change the integration settings."""

from __future__ import annotations

import click


@click.group("integration")
def integration_group() -> None:
    """Read and change the KaseyaOne integration settings, under the API's rules."""
