"""The one place domain errors become SCIM errors (RFC 7644 §3.12)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from scim2_models import ConflictException
from scim2_models import InvalidValueException
from scim2_models import NotFoundException
from scim2_models import SCIMException

from portal_adapter.errors import Conflict
from portal_adapter.errors import InvalidInput
from portal_adapter.errors import NotFound
from portal_adapter.errors import PortalError


@contextmanager
def translate_portal_errors() -> Iterator[None]:
    """Turn a ``PortalError`` raised by a provisioning hook into its SCIM error.

    :raises ConflictException: For ``Conflict`` (409, the portal's detail).
    :raises NotFoundException: For ``NotFound`` (404).
    :raises InvalidValueException: For ``InvalidInput`` (400 invalidValue).
    :raises SCIMException: For any other ``PortalError`` (400).
    """
    try:
        yield
    except Conflict as error:
        raise ConflictException(detail=error.detail) from error
    except NotFound as error:
        raise NotFoundException(detail=error.detail) from error
    except InvalidInput as error:
        raise InvalidValueException(detail=error.detail) from error
    except PortalError as error:
        raise SCIMException(detail=error.detail) from error
