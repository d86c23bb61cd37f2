"""Fixtures of resupply's tests: the example supplier on loopback and a Setup on the hub fixture."""

from __future__ import annotations

from resupply_helpers import resupply_setup, supplier

__all__ = ["resupply_setup", "supplier"]
