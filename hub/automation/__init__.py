"""Automations: triggers, conditions and action scripts driven by the hub's bus, states and clock."""

from __future__ import annotations

from .config import AutomationConfig, load_automations
from .engine import Automation, AutomationManager
from .errors import AutomationError, ConditionError, ScriptError, TemplateError
from .script import Script
from .trace import Trace, TraceStep, TraceStore

__all__ = [
    "Automation",
    "AutomationConfig",
    "AutomationError",
    "AutomationManager",
    "ConditionError",
    "Script",
    "ScriptError",
    "TemplateError",
    "Trace",
    "TraceStep",
    "TraceStore",
    "load_automations",
]
