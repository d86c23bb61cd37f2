"""A minimal mDNS / DNS-SD responder for our MicroPython devices (docs/mdns_responder.md).

`responder` is the sans-IO core (Responder, Service); `device` the ESP32 socket glue. The host
runner for simulators is firmware/sim/mdns_host.py.
"""

from .responder import MDNS_GROUP, Responder, Service

__all__ = ["MDNS_GROUP", "Responder", "Service"]
