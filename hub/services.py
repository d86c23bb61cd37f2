"""Services: named actions (`domain.service`) with a voluptuous schema that may return data."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import voluptuous as vol

from .bus import EVENT_SERVICE_CALLED, Bus, Context
from .errors import HubError, ServiceNotFound, ServiceValidationError

_LOGGER = logging.getLogger(__name__)

ServiceResponse = dict[str, Any] | None


class SupportsResponse(str, Enum):
    """Whether a service returns data: never, when asked, or always."""

    NONE = "none"
    OPTIONAL = "optional"
    ONLY = "only"


@dataclass(frozen=True, slots=True)
class ServiceCall:
    """One call of a service, with its validated data and the caller's context."""

    domain: str
    service: str
    data: Mapping[str, Any]
    context: Context = field(default_factory=Context)
    return_response: bool = False


Handler = Callable[[ServiceCall], Awaitable[ServiceResponse] | ServiceResponse]


@dataclass(slots=True)
class _Service:
    handler: Handler
    schema: vol.Schema | None
    supports_response: SupportsResponse
    owner: str | None
    description: str
    resident: bool


class ServiceRegistry:
    """Registers services and calls them with validated data."""

    def __init__(self, bus: Bus) -> None:
        self._bus = bus
        self._services: dict[str, dict[str, _Service]] = {}

    def register(
        self,
        domain: str,
        service: str,
        handler: Handler,
        schema: vol.Schema | Mapping[Any, Any] | None = None,
        *,
        supports_response: SupportsResponse = SupportsResponse.NONE,
        owner: str | None = None,
        description: str = "",
        resident: bool = False,
    ) -> Callable[[], None]:
        """Register `domain.service`; returns a callable that removes it again.

        `resident=True` lets users with the resident role call it (arm/disarm, acknowledge,
        approve an order); by default only administrators may.
        """
        domain, service = domain.lower(), service.lower()
        if schema is not None and not isinstance(schema, vol.Schema):
            schema = vol.Schema(schema)
        entry = _Service(
            handler, schema, supports_response, owner, description or (handler.__doc__ or "").strip(), resident
        )
        self._services.setdefault(domain, {})[service] = entry

        def unregister() -> None:
            if self._services.get(domain, {}).get(service) is entry:
                self.remove(domain, service)

        return unregister

    def remove(self, domain: str, service: str) -> None:
        """Remove a service if it exists."""
        services = self._services.get(domain)
        if services is not None:
            services.pop(service, None)
            if not services:
                del self._services[domain]

    def has(self, domain: str, service: str) -> bool:
        """Whether `domain.service` is registered."""
        return service.lower() in self._services.get(domain.lower(), {})

    def resident_allowed(self, domain: str, service: str) -> bool:
        """Whether users with the resident role may call `domain.service`."""
        svc = self._services.get(domain.lower(), {}).get(service.lower())
        return svc is not None and svc.resident

    def describe(self) -> dict[str, dict[str, dict[str, Any]]]:
        """Every service with its fields and response support, for the API and the dashboard."""
        out: dict[str, dict[str, dict[str, Any]]] = {}
        for domain, services in sorted(self._services.items()):
            for name, svc in sorted(services.items()):
                fields = []
                if svc.schema is not None and isinstance(svc.schema.schema, Mapping):
                    fields = [str(getattr(k, "schema", k)) for k in svc.schema.schema]
                out.setdefault(domain, {})[name] = {
                    "description": svc.description,
                    "fields": fields,
                    "response": svc.supports_response.value,
                    "owner": svc.owner,
                    "resident": svc.resident,
                }
        return out

    async def call(
        self,
        domain: str,
        service: str,
        data: Mapping[str, Any] | None = None,
        *,
        context: Context | None = None,
        return_response: bool = False,
    ) -> ServiceResponse:
        """Validate `data` and run the service; returns its data when `return_response`."""
        domain, service = domain.lower(), service.lower()
        svc = self._services.get(domain, {}).get(service)
        if svc is None:
            raise ServiceNotFound(domain, service)
        name = f"{domain}.{service}"
        if return_response and svc.supports_response is SupportsResponse.NONE:
            raise HubError(f"{name} does not return data")
        if svc.supports_response is SupportsResponse.ONLY and not return_response:
            raise HubError(f"{name} only returns data; call it with return_response")
        validated: Mapping[str, Any] = dict(data or {})
        if svc.schema is not None:
            try:
                validated = svc.schema(validated)
            except vol.Invalid as err:
                raise _validation_error(name, err) from None
        context = context or Context(origin=name)
        self._bus.fire(
            EVENT_SERVICE_CALLED, {"domain": domain, "service": service, "data": validated}, context=context
        )
        result = svc.handler(ServiceCall(domain, service, validated, context, return_response))
        if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
            result = await result
        if return_response:
            if result is not None and not isinstance(result, dict):
                raise HubError(f"{name} returned {type(result).__name__}, expected a dict")
            return result
        return None


def _validation_error(name: str, err: vol.Invalid) -> ServiceValidationError:
    """Turn the first voluptuous error into one that names the offending field."""
    first = err.errors[0] if isinstance(err, vol.MultipleInvalid) else err
    path = tuple(p if isinstance(p, int) else str(p) for p in first.path)
    message = first.error_message or str(first)
    if message == "extra keys not allowed":
        message = "unknown field"
    return ServiceValidationError(name, path, message)
