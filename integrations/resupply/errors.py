"""Resupply's errors, split into permanent (stop, tell the resident) and transient (retry).

Error tree::

    HubError
      ResupplyError
        SupplierError
          SupplierRejected     permanent: a 4xx answer or a rejected order; the order fails with the supplier's message
          SupplierUnavailable  transient: 5xx, 429, timeout, refused connection, an answer we cannot read; retried
        SignatureError         a callback with a missing, bad or stale signature (401; the body is never logged)
        OrderStateError        a transition the lifecycle does not allow (e.g. approve a delivered order: 409)
"""

from __future__ import annotations

from hub.errors import HubError, PermanentError, TransientError


class ResupplyError(HubError):
    """Something about ordering water or gas went wrong."""


class SupplierError(ResupplyError):
    """The supplier did not take or answer a request as expected."""


class SupplierRejected(SupplierError, PermanentError):
    """Permanent: the supplier refused (4xx, rejected); retrying the same request cannot help."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class SupplierUnavailable(SupplierError, TransientError):
    """Transient: the supplier could not be reached or answered 5xx / 429 / garbage; retry later."""

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class SignatureError(ResupplyError):
    """A signed message whose signature is missing, malformed, wrong or too old."""


class OrderStateError(ResupplyError):
    """An order transition that its lifecycle does not allow."""


__all__ = [
    "OrderStateError",
    "ResupplyError",
    "SignatureError",
    "SupplierError",
    "SupplierRejected",
    "SupplierUnavailable",
]
