"""The automation engine's errors, under the runtime's `HubError`.

AutomationError        one automation's problem (permanent for that run)
  TemplateError        a template failed to compile or render; names where it came from
  ConditionError       a condition could not be evaluated (counts as false, shown in the trace)
  ScriptError          an action failed (service error, `stop` with `error: true`)
"""

from __future__ import annotations

from ..errors import HubError


class AutomationError(HubError):
    """A problem of one automation: its configuration, a template, a condition or an action."""


class TemplateError(AutomationError):
    """A template failed to compile or render; the message starts with where the template is."""


class ConditionError(AutomationError):
    """A condition could not be evaluated (entity missing, value not a number)."""


class ScriptError(AutomationError):
    """An action of a script failed."""
