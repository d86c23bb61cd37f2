"""Fixtures of the alarm panel's tests: a panel on the hub fixture (ap_helpers.py)."""

from __future__ import annotations

from ap_helpers import ap

__all__ = ["ap"]
