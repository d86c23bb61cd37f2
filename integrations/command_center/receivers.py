"""The receiver group: primary and backup DC-09 receivers, failover and return, supervision, link state.

All DC-09 traffic of the hub goes through one group (one outbox channel, one sequence counter):

* failover: after `attempts_before_failover` consecutive failures on the receiver in use, the
  other one takes over, and the message that failed is tried on it at once;
* return: while on the backup, the primary is probed with a NULL every `return_after` (hub clock)
  and taken back when it ACKs;
* supervision: a NULL every `supervision_interval`, restarted by any message sent; its ACK proves
  the link and its failure counts like any other;
* link state: down from the first failure (`down_since`), up again at the next ACK; every change
  goes to `on_status` (the entity) and fires `command_center_link`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import asdict, replace
from datetime import datetime, tzinfo
from typing import Any

from hub.clock import Clock, Repeating, Timer

from .dc09 import Dc09Message, Response
from .entity import LinkStatus
from .link import Dc09Link, LinkError, ReceiverRefused
from .sequence import SequenceStore

_LOGGER = logging.getLogger(__name__)

EVENT_LINK = "command_center_link"

Spawn = Callable[[Coroutine[Any, Any, Any], str], "asyncio.Task[Any]"]
Build = Callable[[Dc09Link], Dc09Message]


class ReceiverGroup:
    """Delivers DC-09 messages through the primary receiver, or the backup while the primary fails."""

    def __init__(
        self,
        links: Sequence[Dc09Link],
        sequences: SequenceStore,
        *,
        clock: Clock,
        spawn: Spawn,
        time_zone: tzinfo,
        attempts_before_failover: int = 3,
        return_after: float = 300.0,
        supervision_interval: float = 90.0,
        on_status: Callable[[LinkStatus], None] | None = None,
        on_recovered: Callable[[], None] | None = None,
        fire: Callable[[str, dict[str, Any]], None] | None = None,
    ) -> None:
        if not 1 <= len(links) <= 2:
            raise ValueError("a receiver group has a primary and at most one backup")
        self.links = tuple(links)
        self.sequences = sequences
        self.attempts_before_failover = attempts_before_failover
        self.return_after = return_after
        self.supervision_interval = supervision_interval
        self._clock = clock
        self._spawn = spawn
        self._tz = time_zone
        self.on_status = on_status
        self._on_recovered = on_recovered
        self._fire = fire
        self._active = 0
        self._failures = 0  # consecutive failures of the receiver in use
        self._current: tuple[str, int] | None = None  # (message key, sequence) of the message being delivered
        self._supervision: Timer | None = None
        self._returning: Repeating | None = None
        self._supervising: asyncio.Task[Any] | None = None
        self._probing: asyncio.Task[Any] | None = None
        self._stopped = False
        primary = self.links[0]
        self.status = LinkStatus(connected=None, receiver=primary.name, address=primary.address)

    @property
    def active(self) -> Dc09Link:
        """The receiver messages go to now."""
        return self.links[self._active]

    async def start(self) -> None:
        """Load the sequence counter and start supervision."""
        await self.sequences.start()
        self._rearm_supervision()

    async def stop(self) -> None:
        """Stop timers and probes and close the connections."""
        self._stopped = True
        for timer in (self._supervision, self._returning):
            if timer is not None:
                timer.cancel()
        for task in (self._supervising, self._probing):
            if task is not None and not task.done():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        for link in self.links:
            await link.close()

    # -- sending -------------------------------------------------------------------------------------

    async def deliver(self, key: str, token: str, data: str, extended: tuple[str, ...] = ()) -> Response:
        """Send one queued message; a retry of the same `key` keeps its sequence number."""
        if self._current is None or self._current[0] != key:
            self._current = (key, await self.sequences.next())
        sequence = self._current[1]
        return await self._send(lambda link: link.message(token, sequence, data, extended))

    async def supervise(self) -> Response | None:
        """Send a NULL (link test) through the receiver in use; None when it failed (the state says why)."""
        sequence = await self.sequences.next()
        try:
            return await self._send(lambda link: link.message("NULL", sequence))
        except (LinkError, ReceiverRefused) as err:
            _LOGGER.debug("Supervision NULL failed: %s", err)
            return None

    async def _send(self, build: Build, *, may_fail_over: bool = True) -> Response:
        self._rearm_supervision()
        link = self.active
        try:
            response = await link.send(build(link))
        except ReceiverRefused as err:
            self._answered(link, error=str(err))  # it answered: the line works, the content does not
            raise
        except LinkError as err:
            if self._failed(link, err) and may_fail_over:
                return await self._send(build, may_fail_over=False)
            raise
        self._answered(link)
        return response

    # -- state -----------------------------------------------------------------------------------------

    def _answered(self, link: Dc09Link, *, error: str | None = None) -> None:
        now = self._clock.time()
        if link is self.active:
            self._failures = 0
        was_down = self.status.connected is False
        self._update(connected=True, down_since=None, last_ack=now, message=None,
                     last_error=error if error is not None else self.status.last_error)  # fmt: skip
        if was_down:
            _LOGGER.warning("Command centre link is up again through %s", link.label)
            if self._on_recovered is not None:
                self._on_recovered()

    def _failed(self, link: Dc09Link, err: LinkError) -> bool:
        """Record a failure of `link`; True when it made the group switch receivers."""
        if link is not self.active:
            return False  # a late failure of a receiver we already left
        now = self._clock.time()
        self._failures += 1
        down_since = self.status.down_since if self.status.down_since is not None else now
        if self.status.connected is not False:
            _LOGGER.warning("Command centre link down: %s", err)
        self._update(connected=False, down_since=down_since, last_error=str(err),
                     message=self._down_message(down_since, str(err)))  # fmt: skip
        if self._failures < self.attempts_before_failover or len(self.links) < 2:
            return False
        self._switch(1 - self._active, why=f"{self._failures} failures in a row on {link.label}")
        return True

    def _switch(self, index: int, *, why: str) -> None:
        self._active = index
        self._failures = 0
        link = self.active
        _LOGGER.warning("Command centre: now sending to %s (%s)", link.label, why)
        if index != 0 and self._returning is None:
            self._returning = self._clock.every(self.return_after, self._return_due)
        elif index == 0 and self._returning is not None:
            self._returning.cancel()
            self._returning = None
        self._update(receiver=link.name, address=link.address)

    def _down_message(self, down_since: float, error: str) -> str:
        since = datetime.fromtimestamp(down_since, self._tz).strftime("%H:%M")
        return f"command centre link down since {since} ({error})"

    def _update(self, **changes: Any) -> None:
        before = self.status
        self.status = replace(before, **changes)
        if self.status == before:
            return
        if self.on_status is not None:
            self.on_status(self.status)
        if self._fire is not None and (before.connected, before.receiver) != (self.status.connected, self.status.receiver):
            self._fire(EVENT_LINK, asdict(self.status))

    # -- timers ------------------------------------------------------------------------------------------

    def _rearm_supervision(self) -> None:
        if self._supervision is not None:
            self._supervision.cancel()
            self._supervision = None
        if self.supervision_interval > 0 and not self._stopped:
            self._supervision = self._clock.call_later(self.supervision_interval, self._supervision_due)

    def _supervision_due(self) -> None:
        self._supervision = None
        if self._stopped or (self._supervising is not None and not self._supervising.done()):
            return
        self._supervising = self._spawn(self.supervise(), "command_center supervision")

    def _return_due(self) -> None:
        if self._stopped or self._active == 0 or (self._probing is not None and not self._probing.done()):
            return
        self._probing = self._spawn(self.probe_primary(), "command_center return to primary")

    async def probe_primary(self) -> bool:
        """While on the backup: a NULL to the primary; True (and the primary is in use again) when it ACKs."""
        if self._active == 0:
            return True
        primary = self.links[0]
        sequence = await self.sequences.next()
        try:
            await primary.send(primary.message("NULL", sequence))
        except (LinkError, ReceiverRefused) as err:
            _LOGGER.debug("Primary still unavailable: %s", err)
            return False
        self._switch(0, why=f"{primary.label} answers again")
        self._answered(primary)
        return True


__all__ = ["EVENT_LINK", "ReceiverGroup"]
