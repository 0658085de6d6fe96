"""Validate the human-given names of groups and organizations."""

from __future__ import annotations

from portal_adapter.errors import InvalidInput

MAX_NAME_LENGTH = 255
"""The columns holding these names are String(255)."""


def clean_name(value: object, *, field: str) -> str:
    """Return ``value`` stripped, refusing what is not a non-empty string of at most 255 characters.

    :raises InvalidInput: When the value is not such a string; the message names ``field``.
    """
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{field} must be a non-empty string")
    name = value.strip()
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidInput(f"{field} holds at most {MAX_NAME_LENGTH} characters")
    return name
