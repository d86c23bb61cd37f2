"""Fixtures of command_center's tests: the scripted DC-09 receiver, the webhook receiver and a CcSetup."""

from __future__ import annotations

from cc_helpers import cc, scripted, webhook_receiver

__all__ = ["cc", "scripted", "webhook_receiver"]
