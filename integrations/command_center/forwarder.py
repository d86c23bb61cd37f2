"""From the alarm panel's events to the outbox, and from the outbox to the receivers and webhooks.

`alarm_raised` / `alarm_restored` (and `alarm_panel_armed` / `alarm_panel_disarmed` with
`report_open_close`) become one outbox message per destination: `command_center.dc09` for the
receiver group and `command_center.webhook.<name>` per webhook. The message id is
`<alarm id>:<event>`, so an event delivered twice is queued once (the outbox refuses a second
row with the same id). The DC-09 frame is made at send time from the stored alarm record: a code
table fixed after a DUH applies when a person retries the failed message. The frame carries the
message id as xdata `[I<id>]`, the receiver's key to drop a resend it already has.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hub.bus import Context, Event
from hub.errors import PermanentError
from hub.outbox import OutboxError, OutboxMessage

from .dc09 import ContactId, Dc09Error, SiaEvent, cid_data, sia_data
from .entity import QueuedSensor
from .mapping import CodeTable, contact_id_for, sia_for
from .receivers import ReceiverGroup
from .webhook import WebhookSender

_LOGGER = logging.getLogger(__name__)

CHANNEL_DC09 = "command_center.dc09"
CHANNEL_WEBHOOK = "command_center.webhook."
ALARM_EVENTS = {"alarm_raised": "raised", "alarm_restored": "restored"}
OPEN_CLOSE_EVENTS = {"alarm_panel_armed": "armed", "alarm_panel_disarmed": "disarmed"}
DEDUP_XDATA = "I"  # DC-09 xdata "alarm text": pysiaalarm and others accept it; carries the message id
GENERIC_CID = 140  # Contact ID general alarm: for a category the table does not know
GENERIC_SIA = ("UA", "UH")  # SIA untyped zone alarm / restore
RESYNC_EVERY = 60.0  # seconds: recount the queue (a person may have retried or cancelled messages)
_ID_CHARS = re.compile(r"[^A-Za-z0-9:._-]")

Spawn = Callable[[Any, str], "asyncio.Task[Any]"]


def webhook_channel(name: str) -> str:
    return f"{CHANNEL_WEBHOOK}{name}"


def message_id(record: Mapping[str, Any], event: str, context: Context) -> str:
    """`<alarm id>:<event>`; open/close events carry no id, their context's id stands in."""
    base = record.get("id") if event in ("raised", "restored") else None
    return f"{base if isinstance(base, str) and base else context.id}:{event}"


def dedup_block(msg_id: str) -> str:
    """The xdata block that carries the message id (ASCII, no brackets, at most 64 characters)."""
    return DEDUP_XDATA + _ID_CHARS.sub("", msg_id)[:64]


def _zone_number(record: Mapping[str, Any], maximum: int) -> int:
    zone = record.get("zone")
    number = zone.get("number") if isinstance(zone, Mapping) else None
    return number if isinstance(number, int) and not isinstance(number, bool) and 0 <= number <= maximum else 0


@dataclass(frozen=True, slots=True)
class Dc09Format:
    """How the installation reports: ADM-CID or SIA-DCS, its account and its code table."""

    token: str
    account: str
    table: CodeTable

    def content(self, payload: Mapping[str, Any], msg_id: str) -> tuple[str, tuple[str, ...]]:
        """(data block, xdata blocks) of a queued event."""
        event = payload.get("event")
        record = dict(payload.get("alarm") or {})
        if event in ("armed", "disarmed"):
            record["category"] = "open_close"
            restore = event == "armed"  # Contact ID 401: 3 = closing (arm), 1 = opening (disarm)
        else:
            restore = event == "restored"
        try:
            if self.token == "ADM-CID":
                data = cid_data(self.account, self._cid(record, restore))
            else:
                data = sia_data(self.account, self._sia(record, restore))
        except (Dc09Error, ValueError) as err:
            raise PermanentError(f"alarm {record.get('id')!r} cannot be coded as {self.token}: {err}") from None
        return data, (dedup_block(msg_id),)

    def _cid(self, record: dict[str, Any], restore: bool) -> ContactId:
        if record.get("category") in self.table.contact_id:
            return contact_id_for(record, restore=restore, table=self.table)
        _LOGGER.warning("Alarm category %r has no Contact ID code; sending %d", record.get("category"), GENERIC_CID)
        return ContactId(qualifier=3 if restore else 1, code=GENERIC_CID, partition=1, zone=_zone_number(record, 999))

    def _sia(self, record: dict[str, Any], restore: bool) -> SiaEvent:
        if record.get("category") in self.table.sia:
            return sia_for(record, restore=restore, table=self.table)
        code = GENERIC_SIA[1 if restore else 0]
        _LOGGER.warning("Alarm category %r has no SIA code; sending %s", record.get("category"), code)
        return SiaEvent(code=code, zone=_zone_number(record, 9999), partition=1)


class Forwarder:
    """Listens to the alarm events, queues them, and is the outbox sender of every command centre channel."""

    def __init__(
        self,
        hub: Any,
        *,
        group: ReceiverGroup | None,
        dc09: Dc09Format | None,
        webhooks: Sequence[WebhookSender] = (),
        report_open_close: bool = False,
        queued: QueuedSensor | None = None,
    ) -> None:
        self._hub = hub
        self.group = group
        self.dc09 = dc09
        self.webhooks = {webhook_channel(w.name): w for w in webhooks}
        self.report_open_close = report_open_close
        self.queued = queued
        self.channels = ([CHANNEL_DC09] if group is not None else []) + list(self.webhooks)
        self._pending = 0
        self._failed = 0
        self._recovering: asyncio.Task[Any] | None = None

    async def start(self) -> None:
        """Count what earlier runs left queued, register the senders (which resume it), then listen."""
        await self.resync()
        outbox = self._hub.outbox
        if self.group is not None:
            self._hub.on_unload(outbox.register_channel(CHANNEL_DC09, self.send_dc09, base_backoff=1.0,
                                                        max_backoff=60.0))  # fmt: skip
        for channel, hook in self.webhooks.items():
            self._hub.on_unload(outbox.register_channel(channel, self._webhook_sender(hook), base_backoff=2.0,
                                                        max_backoff=300.0))  # fmt: skip
        events = dict(ALARM_EVENTS)
        if self.report_open_close:
            events.update(OPEN_CLOSE_EVENTS)
        for event_type in events:
            self._hub.bus.listen(event_type, self._on_event)
        self._hub.clock.every(RESYNC_EVERY, self._resync_soon)

    # -- queueing ------------------------------------------------------------------------------------

    def _on_event(self, event: Event) -> None:
        # Inline listener: the task starts in this loop iteration, so the alarm is queued at once.
        kind = ALARM_EVENTS.get(event.event_type) or OPEN_CLOSE_EVENTS[event.event_type]
        self._hub.create_task(self.enqueue(kind, dict(event.data), event.context), f"queue {kind}")

    async def enqueue(self, event: str, record: dict[str, Any], context: Context) -> list[OutboxMessage]:
        """Queue one message per destination; an id already queued is skipped (a repeated event)."""
        msg_id = message_id(record, event, context)
        payload = {"event": event, "alarm": record}
        targets = ([CHANNEL_DC09] if self.group is not None else []) + (
            list(self.webhooks) if event in ALARM_EVENTS.values() else []
        )
        queued: list[OutboxMessage] = []
        for channel in targets:
            # The id is unique across the whole outbox, so webhooks get the channel in theirs.
            channel_id = msg_id if channel == CHANNEL_DC09 else f"{msg_id}@{channel.rpartition('.')[2]}"
            try:
                queued.append(await self._hub.outbox.enqueue(channel, payload, context=context, message_id=channel_id))
            except sqlite3.IntegrityError:
                _LOGGER.debug("%s is already queued on %s", channel_id, channel)
                continue
            self._count(pending=1)
        return queued

    # -- sending --------------------------------------------------------------------------------------

    async def send_dc09(self, message: OutboxMessage) -> None:
        """Outbox sender of the receiver group: returns once a receiver ACKed."""
        assert self.group is not None and self.dc09 is not None
        try:
            data, extended = self.dc09.content(message.payload, message.id)
            await self.group.deliver(message.id, self.dc09.token, data, extended)
        except PermanentError:
            self._count(pending=-1, failed=1)
            raise
        self._count(pending=-1)

    def _webhook_sender(self, hook: WebhookSender) -> Callable[[OutboxMessage], Any]:
        async def send(message: OutboxMessage) -> None:
            try:
                await hook.send(message)
            except PermanentError:
                self._count(pending=-1, failed=1)
                raise
            self._count(pending=-1)

        return send

    def link_recovered(self) -> None:
        """The receivers answer again: send the queue now instead of at the end of its backoff."""
        if self._recovering is None or self._recovering.done():
            self._recovering = self._hub.create_task(self._retry_head(), "command_center flush after outage")

    async def _retry_head(self) -> None:
        heads = await self._hub.outbox.list(channel=CHANNEL_DC09, state="pending", limit=1)
        if heads and heads[0].attempts > 0:  # only a message waiting out a backoff needs the nudge
            try:
                await self._hub.outbox.retry(heads[0].id)
            except OutboxError:
                pass  # delivered meanwhile

    async def channel_stats(self) -> dict[str, dict[str, Any]]:
        """The outbox's counts for each of our channels (zeros for one that never had a message)."""
        stats = await self._hub.outbox.stats()
        empty = {"pending": 0, "delivered": 0, "failed": 0, "cancelled": 0, "oldest_pending_age": None}
        return {channel: stats.get(channel, empty) for channel in self.channels}

    # -- the queued-alarms sensor --------------------------------------------------------------------

    def _count(self, *, pending: int = 0, failed: int = 0) -> None:
        self._pending = max(0, self._pending + pending)
        self._failed += failed
        if self.queued is not None:
            self.queued.show(self._pending, self._failed)

    def _resync_soon(self) -> None:
        self._hub.create_task(self.resync(), "command_center queue count")

    async def resync(self) -> None:
        """Recount pending and failed messages of our channels from the outbox."""
        stats = await self._hub.outbox.stats()
        ours = [stats.get(channel, {}) for channel in self.channels]
        self._pending = sum(s.get("pending", 0) for s in ours)
        self._failed = sum(s.get("failed", 0) for s in ours)
        self._count()


__all__ = ["CHANNEL_DC09", "CHANNEL_WEBHOOK", "DEDUP_XDATA", "Dc09Format", "Forwarder", "dedup_block",
           "message_id", "webhook_channel"]  # fmt: skip
