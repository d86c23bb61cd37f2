"""The entities every tank sensor offers, described once: level %, volume, consumption, days until empty."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hub.entities import EntityDescription
from hub.tanks.geometry import TankLevel
from hub.tanks.model import TankModel


@dataclass(frozen=True, kw_only=True)
class TankDescription(EntityDescription):
    """An entity of a tank: its value is read from the tank's model."""

    value: Callable[[TankModel], Any]


def _level(f: Callable[[TankLevel], float]) -> Callable[[TankModel], float | None]:
    return lambda model: None if model.level is None else f(model.level)


# The level is % of capacity by volume (what an LP gauge shows); it carries the `tank` attribute.
LEVEL = TankDescription(key="level", name="Level", unit_of_measurement="%", state_class="measurement",
                        suggested_display_precision=1, value=_level(lambda lv: lv.fill_pct_of_capacity))
VOLUME = TankDescription(key="volume", name="Volume", unit_of_measurement="L", device_class="volume",
                         state_class="measurement", suggested_display_precision=0, value=_level(lambda lv: lv.volume_l))
CONSUMPTION = TankDescription(key="consumption", name="Consumption", unit_of_measurement="L/d",
                              state_class="measurement", suggested_display_precision=0, value=lambda m: m.rate)
DAYS_UNTIL_EMPTY = TankDescription(key="days_until_empty", name="Days until empty", unit_of_measurement="d",
                                   suggested_display_precision=1, value=lambda m: m.days_left)

__all__ = ["CONSUMPTION", "DAYS_UNTIL_EMPTY", "LEVEL", "VOLUME", "TankDescription"]
