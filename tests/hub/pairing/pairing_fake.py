"""A custom integration `fakecam` with a pairing module, written into a hub's config directory for tests."""

from __future__ import annotations

import json
from pathlib import Path

from hub.loader import CUSTOM_DIR

DOMAIN = "fakecam"
UNREACHABLE_HOST = "10.9.9.9"  # async_pair treats this address as a device that does not answer

INIT = '''
SETUPS = []  # (entry_id, data) of every entry set up, for the tests
UNLOADS = []


async def async_setup(hub, config):
    pass


async def async_setup_entry(hub, entry):
    SETUPS.append((entry.entry_id, dict(entry.data)))


async def async_unload_entry(hub, entry):
    UNLOADS.append(entry.entry_id)
'''

PAIRING = f'''
from hub.pairing import Ask, Offer, Paired, PairingError


async def async_discovered(hub, found):
    serial = found.properties.get("serial")
    if serial is None:
        return None  # not one of ours after all
    return Offer(serial, found.name or serial, "thing", (Ask("pin", "PIN", secret=True, pattern=r"[0-9]{{4}}"),),
                 {{"model": found.properties.get("model")}}, address_data={{"host": found.host, "port": found.port}})


async def async_pair(hub, found, answers):
    if found.host == "{UNREACHABLE_HOST}":
        raise PairingError(None, f"could not reach {{found.name}} at {{found.host}}: connection refused")
    if answers["pin"] != "1234":
        raise PairingError("pin", "the device refused that PIN")
    return Paired(found.name, {{"host": found.host, "port": found.port, "pin": answers["pin"]}})
'''


def write_fakecam(config_dir: Path, *, with_pairing: bool = True, domain: str = DOMAIN) -> None:
    """The integration in `config_dir/custom_integrations/<domain>/`, announcing `_fakecam._tcp`."""
    package = config_dir / CUSTOM_DIR / domain
    package.mkdir(parents=True)
    manifest = {"domain": domain, "name": "Fake camera", "version": "1.0.0", "iot_class": "local_push",
                "zeroconf": [{"type": "_fakecam._tcp.local."}],
                "wsdiscovery": [{"types": ["dn:NetworkVideoTransmitter"]}]}  # fmt: skip
    (package / "manifest.json").write_text(json.dumps(manifest))
    (package / "__init__.py").write_text(INIT)
    if with_pairing:
        (package / "pairing.py").write_text(PAIRING)
