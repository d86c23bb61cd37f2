"""HTTPS webhook of one command centre: a signed JSON POST per alarm event, CAP 1.2 inside when asked.

Body: `{"id", "event", "alarm", "hub", "cap_xml"?, "snapshot"?}`. Headers: `X-Hub-Signature-256:
sha256=<hex HMAC-SHA256 of the body with the webhook's secret>`, `X-Hub-Timestamp` (unix seconds
of this attempt) and `Idempotency-Key: <outbox message id>`, the same on every resend, so the
receiver stores each alarm event once. 2xx is delivered; 4xx other than 408/429 is permanent (the
message fails with the receiver's words); everything else, timeouts and refused connections are
transient and retried by the outbox.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp

from hub.errors import PermanentError, TransientError
from hub.outbox import OutboxMessage

_LOGGER = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Hub-Signature-256"
TIMESTAMP_HEADER = "X-Hub-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"
TRANSIENT_4XX = frozenset({408, 429})
_ANSWER_CHARS = 200
_MAX_SNAPSHOT = 2 * 1024 * 1024  # bytes; a bigger picture is linked, not attached

SnapshotReader = Callable[[str], Awaitable[tuple[bytes, str] | None]]


class WebhookRejected(PermanentError):
    """The receiver refused the alarm with a 4xx: resending the same body cannot help."""


class WebhookUnavailable(TransientError):
    """5xx, 408/429, timeout or no connection: the outbox tries again later."""


@dataclass(frozen=True, slots=True)
class CapSettings:
    """Who the CAP documents come from and where the home is."""

    sender: str
    area_desc: str
    circle: tuple[float, float, float] | None = None


def signature(secret: str, body: bytes) -> str:
    """The `X-Hub-Signature-256` value of `body`: `sha256=` and the hex HMAC-SHA256."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def snapshot_url(snapshot: Any, base_url: str | None) -> str | None:
    """The alarm's snapshot as an absolute URL when it can be one (a hub path needs `external_url`)."""
    if not isinstance(snapshot, str) or not snapshot:
        return None
    if urlsplit(snapshot).scheme in ("http", "https"):
        return snapshot
    return urljoin(base_url.rstrip("/") + "/", snapshot.lstrip("/")) if base_url else snapshot


def _answer_text(body: bytes) -> str:
    text = body.decode("utf-8", errors="replace").strip()
    return text[:_ANSWER_CHARS] if text else "no explanation given"


def _moment(value: Any, fallback: float) -> datetime:
    seconds = value if isinstance(value, int | float) and not isinstance(value, bool) else fallback
    return datetime.fromtimestamp(seconds, UTC)


class WebhookSender:
    """The outbox sender of one webhook: `await send(message)`."""

    def __init__(
        self,
        *,
        name: str,
        url: str,
        secret: str,
        session: aiohttp.ClientSession,
        clock: Callable[[], float],
        hub_info: Mapping[str, Any],
        cap: CapSettings | None = None,
        attach_snapshot: bool = False,
        base_url: str | None = None,
        timeout: float = 10.0,
        read_snapshot: SnapshotReader | None = None,
    ) -> None:
        if not secret:
            raise ValueError(f"webhook {name}: the secret is empty")
        self.name = name
        self.url = url
        self.timeout = timeout
        self._secret = secret
        self._session = session
        self._clock = clock
        self._hub_info = dict(hub_info)
        self._cap = cap
        self._attach = attach_snapshot
        self._base_url = base_url
        self._read_snapshot = read_snapshot or self._fetch
        parts = urlsplit(url)
        self._where = f"{parts.hostname}:{parts.port or (443 if parts.scheme == 'https' else 80)}"

    async def body(self, message: OutboxMessage) -> bytes:
        """The JSON body for a queued alarm event; identical on every resend except an attached picture."""
        payload = message.payload
        alarm: dict[str, Any] = dict(payload.get("alarm") or {})
        event = str(payload.get("event", "raised"))
        body: dict[str, Any] = {"id": message.id, "event": event, "alarm": alarm, "hub": self._hub_info}
        url = snapshot_url(alarm.get("snapshot"), self._base_url)
        if url is not None:
            body["snapshot"] = await self._snapshot(url)
        if self._cap is not None:
            body["cap_xml"] = self._cap_xml(alarm, event, message, url)
        return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()

    async def send(self, message: OutboxMessage) -> None:
        """POST the signed body; returns on 2xx, raises WebhookRejected / WebhookUnavailable otherwise."""
        raw = await self.body(message)
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature(self._secret, raw),
            TIMESTAMP_HEADER: str(int(self._clock())),
            IDEMPOTENCY_HEADER: message.id,
        }
        try:
            async with self._session.post(
                self.url, data=raw, headers=headers, timeout=aiohttp.ClientTimeout(total=self.timeout),
                allow_redirects=False,  # a redirect could carry the alarm elsewhere: report it instead
            ) as response:
                status = response.status
                answer = await response.read()
        except (aiohttp.ClientError, TimeoutError, OSError) as err:
            reason = f"no answer within {self.timeout:g} s" if isinstance(err, TimeoutError) else str(err) or type(err).__name__
            raise WebhookUnavailable(f"webhook {self.name} ({self._where}): {reason}") from None
        if 200 <= status < 300:
            return
        if 400 <= status < 500 and status not in TRANSIENT_4XX:
            raise WebhookRejected(f"webhook {self.name} ({self._where}) refused the alarm: {status} {_answer_text(answer)}")
        raise WebhookUnavailable(f"webhook {self.name} ({self._where}): {status} {_answer_text(answer)}")

    def _cap_xml(self, alarm: Mapping[str, Any], event: str, message: OutboxMessage, url: str | None) -> str:
        from .cap import cap_reference, render_cap

        assert self._cap is not None
        alarm_id = str(alarm.get("id", message.id))
        raised_id = f"{alarm_id}-raised"
        raised_at = _moment(alarm.get("time"), message.created)
        if event == "raised":
            identifier, sent, msg_type, references = raised_id, raised_at, "Alert", None
        else:
            # A restore updates the original alert, which it names by sender, identifier and sent.
            identifier = f"{alarm_id}-{event}"
            sent = _moment(alarm.get("restored_at"), message.created)
            msg_type, references = "Update", cap_reference(self._cap.sender, raised_id, raised_at)
        document = render_cap(alarm, identifier=identifier, sender=self._cap.sender, sent=sent, msg_type=msg_type,
                              references=references, area_desc=self._cap.area_desc, circle=self._cap.circle,
                              snapshot_url=url)  # fmt: skip
        return document.decode("utf-8")

    async def _snapshot(self, url: str) -> dict[str, Any]:
        result: dict[str, Any] = {"url": url}
        if not self._attach:
            return result
        try:
            picture = await self._read_snapshot(url)
        except Exception as err:  # noqa: BLE001 - a missing picture must never hold up the alarm
            _LOGGER.warning("Webhook %s: snapshot %s not attached: %s", self.name, url, err)
            picture = None
        if picture is not None:
            data, content_type = picture
            result["content_type"] = content_type
            result["base64"] = base64.b64encode(data).decode("ascii")
        return result

    async def _fetch(self, url: str) -> tuple[bytes, str] | None:
        """The picture behind an absolute snapshot URL (bounded in time and size); None for a hub path."""
        if urlsplit(url).scheme not in ("http", "https"):
            return None
        async with self._session.get(url, timeout=aiohttp.ClientTimeout(total=min(self.timeout, 5.0))) as response:
            if response.status != 200:
                raise WebhookUnavailable(f"snapshot answered {response.status}")
            data = await response.content.read(_MAX_SNAPSHOT + 1)
            if len(data) > _MAX_SNAPSHOT:
                raise WebhookUnavailable(f"snapshot is larger than {_MAX_SNAPSHOT} bytes")
            return data, response.headers.get("Content-Type", "application/octet-stream")


__all__ = [
    "IDEMPOTENCY_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "CapSettings",
    "WebhookRejected",
    "WebhookSender",
    "WebhookUnavailable",
    "signature",
    "snapshot_url",
]
