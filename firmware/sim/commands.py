"""Simulator console commands: `fault 2 silent on`, `refill 1 800`, `status`, ...

Pure: `run_command(line, bus)` parses one line, applies it to a `MultiSensorBus`-like object
(`slaves` {unit: slave with `.faults` and `.tank`}, `tank_time()`) and returns the
acknowledgement text; a bad line raises `CommandError` whose message says what was wrong.
No I/O here; `__main__` reads stdin and prints.
"""

from __future__ import annotations

import difflib
import math
from typing import Any

HELP = """commands (one per line, case-insensitive):
  help                               this list
  status                             level %, volume L and active faults of every unit
  fault UNIT silent|noecho|stuck on|off
  fault UNIT delay SECONDS           every reply leaves this much later (0 clears)
  fault UNIT answer-as OTHER|off     replies carry unit id OTHER
  refill UNIT LITRES [MINUTES]       a truck brings LITRES over MINUTES of tank time (default 20)
  clear UNIT|all                     switch off every fault of UNIT (or of all units)"""

COMMANDS = ("help", "status", "fault", "refill", "clear")
FLAG_FAULTS = {"silent": "silent", "noecho": "no_echo", "stuck": "stuck"}
FAULT_NAMES = (*FLAG_FAULTS, "delay", "answer-as")
DEFAULT_REFILL_MINUTES = 20.0


class CommandError(ValueError):
    """A command line that cannot be applied; str() is the message for the user."""


def _suggest(word: str, choices: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.5)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _unit(bus: Any, text: str) -> int:
    units = ", ".join(str(u) for u in sorted(bus.slaves))
    try:
        unit = int(text)
    except ValueError:
        raise CommandError(f"unit must be a number, got '{text}' (units: {units})") from None
    if unit not in bus.slaves:
        raise CommandError(f"unknown unit {unit} (units: {units})")
    return unit


def _number(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise CommandError(f"{what} must be a number, got '{text}'") from None
    if not math.isfinite(value) or value < 0:
        raise CommandError(f"{what} must be zero or more, got '{text}'")
    return value


def _on_off(text: str) -> bool:
    if text in ("on", "off"):
        return text == "on"
    raise CommandError(f"fault expects on or off, got '{text}'")


def _expect(args: list[str], low: int, high: int, usage: str) -> None:
    if not low <= len(args) <= high:
        raise CommandError(f"usage: {usage}")


def active_faults(faults: Any) -> list[str]:
    active = [name for name, attr in FLAG_FAULTS.items() if getattr(faults, attr)]
    if faults.reply_delay_s > 0:
        active.append(f"delay {faults.reply_delay_s:g}s")
    if faults.answer_as_unit is not None:
        active.append(f"answer-as {faults.answer_as_unit}")
    return active


def _volume_l(tank: Any) -> float | None:
    # The tank's last simulated volume. Not volume_l_at(now): only the bus thread may advance
    # the tank (asked for an earlier t than it has reached, the tank restarts from t = 0).
    volume = getattr(tank, "_volume", None)
    return None if volume is None else float(volume)


def status_lines(bus: Any) -> list[str]:
    lines = []
    for unit in sorted(bus.slaves):
        slave = bus.slaves[unit]
        volume = _volume_l(slave.tank)
        capacity = getattr(slave.tank, "capacity_l", None)
        if volume is None or not capacity:
            water = "level ?"
        else:
            water = f"level {100.0 * volume / capacity:.1f} %, {volume:.0f} L"
        faults = ", ".join(active_faults(slave.faults)) or "no faults"
        lines.append(f"unit {unit}: {water}; {faults}")
    return lines


def _fault(bus: Any, args: list[str]) -> str:
    usage = "fault UNIT silent|noecho|stuck on|off | delay SECONDS | answer-as OTHER|off"
    _expect(args, 3, 3, usage)
    unit = _unit(bus, args[0])
    name, value = args[1], args[2]
    faults = bus.slaves[unit].faults
    if name in FLAG_FAULTS:
        setattr(faults, FLAG_FAULTS[name], _on_off(value))
    elif name == "delay":
        faults.reply_delay_s = _number(value, "delay")
        value = f"{faults.reply_delay_s:g}s" if faults.reply_delay_s else "off"
    elif name == "answer-as":
        if value == "off":
            faults.answer_as_unit = None
        else:
            try:
                other = int(value)
            except ValueError:
                raise CommandError(f"answer-as expects a unit id 1-247 or off, got '{value}'") from None
            if not 1 <= other <= 247:
                raise CommandError(f"answer-as expects a unit id 1-247 or off, got '{value}'")
            faults.answer_as_unit = other
    else:
        raise CommandError(
            f"unknown fault '{name}'{_suggest(name, FAULT_NAMES)} (faults: {', '.join(FAULT_NAMES)})"
        )
    return f"ok: unit {unit} {name} {value}"


def _refill(bus: Any, args: list[str]) -> str:
    _expect(args, 2, 3, "refill UNIT LITRES [MINUTES]")
    unit = _unit(bus, args[0])
    litres = _number(args[1], "litres")
    if litres <= 0:
        raise CommandError(f"litres must be more than zero, got '{args[1]}'")
    minutes = _number(args[2], "minutes") if len(args) == 3 else DEFAULT_REFILL_MINUTES
    if minutes <= 0:
        raise CommandError(f"minutes must be more than zero, got '{args[2]}'")
    # One tank second from now: the bus thread may already have simulated up to "now".
    bus.slaves[unit].tank.schedule_refill(bus.tank_time() + 1.0, litres, minutes * 60.0)
    return f"ok: unit {unit} refill {litres:g} L over {minutes:g} min of tank time"


def _clear(bus: Any, args: list[str]) -> str:
    _expect(args, 1, 1, "clear UNIT|all")
    units = sorted(bus.slaves) if args[0] == "all" else [_unit(bus, args[0])]
    for unit in units:
        bus.slaves[unit].faults.clear()
    return f"ok: faults cleared on unit{'s' if len(units) > 1 else ''} {', '.join(map(str, units))}"


def run_command(line: str, bus: Any) -> str:
    """Apply one command line to `bus`; returns the acknowledgement ('' for a blank line)."""
    words = line.strip().lower().split()
    if not words:
        return ""
    command, args = words[0], words[1:]
    if command == "help":
        return HELP
    if command == "status":
        _expect(args, 0, 0, "status")
        return "\n".join(status_lines(bus))
    if command == "fault":
        return _fault(bus, args)
    if command == "refill":
        return _refill(bus, args)
    if command == "clear":
        return _clear(bus, args)
    hint = _suggest(command, COMMANDS) or " (type help)"
    raise CommandError(f"unknown command '{command}'{hint}")
