"""ESPHome devices on the network, listed in the dashboard's Discovered list so a household knows they are there.

The hub does not run ESPHome devices: that needs ESPHome's native API (protobuf over TCP, Noise
encryption), which no library here speaks and no ESPHome peer can run in our tests. So this
integration only has a pairing module that describes what it found and says, in words, that it
cannot be paired (docs/discovery.md). It has no configuration and no entities.
"""

from __future__ import annotations

from typing import Any

import voluptuous as vol

CONFIG_SCHEMA = vol.Schema({})


async def async_setup(hub: Any, config: dict[str, Any]) -> None:
    """Nothing runs: the Discovered list is fed by the hub's mDNS browser through pairing.py."""
