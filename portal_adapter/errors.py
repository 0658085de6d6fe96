"""Domain errors: one base class with a stable code, translated by each adapter."""

from __future__ import annotations


class PortalError(Exception):
    """A rule of the portal refused an operation.

    Adapters translate it in one place each (SCIM error, flash message, JSON body).
    """

    code: str = "portal_error"
    """A stable machine-readable code."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(PortalError):
    """The named object does not exist (or is not visible to the caller)."""

    code = "not_found"


class Conflict(PortalError):
    """The operation conflicts with a rule or with the current state."""

    code = "conflict"


class RuleViolation(Conflict):
    """A product rule forbids the change (e.g. unified login is off)."""

    code = "rule_violation"


class Forbidden(PortalError):
    """The actor's role does not allow the operation."""

    code = "forbidden"


class InvalidInput(PortalError):
    """A value is of the wrong type or outside its allowed set."""

    code = "invalid_input"
