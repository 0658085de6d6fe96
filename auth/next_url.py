"""The post-login ``next`` target: a same-site path only."""

from __future__ import annotations

from urllib.parse import urlsplit

MAX_LENGTH = 2048


def safe_next(value: str | None, *, default: str) -> str:
    """Return ``value`` when it is a plain same-site path, else ``default``.

    Refused: anything with a scheme or a host (``https://x``, ``//x``), a backslash
    (browsers read ``/\\x`` as ``//x``), control characters or whitespace (browsers
    strip tabs and newlines inside URLs, turning ``/\\t/x`` into ``//x``), and paths
    that do not start with a single ``/``.
    """
    if not value or len(value) > MAX_LENGTH:
        return default
    if any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in value) or "\\" in value:
        return default
    if not value.startswith("/") or value.startswith("//"):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return default
    return value
