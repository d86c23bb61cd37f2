"""The runtime's error tree.

HubError
 +-- TransientError          retry with backoff (device asleep, link down, database busy)
 |    +-- SetupRetry         an integration or config entry is not ready yet; the loader retries
 +-- PermanentError          stop and tell the user (bad credentials, unsupported device)
 +-- ServiceNotFound         `domain.service` is not registered
 +-- ServiceValidationError  service data failed its schema; names the field
 +-- Unauthorized            the caller's user may not do this
"""

from __future__ import annotations


class HubError(Exception):
    """Base of every error the runtime raises on purpose."""


class TransientError(HubError):
    """A failure that may go away by itself; callers retry with backoff."""


class SetupRetry(TransientError):
    """Raised by an integration's setup when its device or service is not reachable yet."""


class PermanentError(HubError):
    """A failure that retrying will not fix; the user must act."""


class ServiceNotFound(HubError):
    """A service call named a service that is not registered."""

    def __init__(self, domain: str, service: str) -> None:
        super().__init__(f"service {domain}.{service} not found")
        self.domain = domain
        self.service = service


class ServiceValidationError(HubError):
    """Service data did not match the service's schema."""

    def __init__(self, service: str, path: tuple[str | int, ...], message: str) -> None:
        where = " -> ".join(str(p) for p in path)
        super().__init__(f"{service}: {where}: {message}" if where else f"{service}: {message}")
        self.service = service
        self.path = path
        self.message = message


class Unauthorized(HubError):
    """The user of the call's context lacks the permission."""
