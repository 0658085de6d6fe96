"""Local passwords: argon2id hashing, verification and a minimal strength rule."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError
from argon2.exceptions import VerificationError

from portal_adapter.errors import InvalidInput

_hasher = PasswordHasher()
MIN_LENGTH = 12
_DUMMY_HASH = _hasher.hash("dummy password used to equalise timing")


def hash_password(password: str) -> str:
    """Return an argon2id hash of ``password``."""
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Tell whether ``password`` matches; hash a dummy when there is no hash (same timing)."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def check_strength(password: str, *, username: str) -> None:
    """Refuse passwords that are short, equal to the username, or of one repeated character.

    :raises InvalidInput: When the password is too weak.
    """
    if len(password) < MIN_LENGTH:
        raise InvalidInput(f"the password must have at least {MIN_LENGTH} characters")
    if password.casefold() == username.casefold() or len(set(password)) < 4:
        raise InvalidInput("the password is too easy to guess")
