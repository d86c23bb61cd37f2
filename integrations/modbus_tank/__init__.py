"""RS-485 Modbus tank-level sensors (serial RTU and TCP gateways).

For now this package holds only the pure protocol modules: `rtu` (framing, CRC, timing) and
`profiles` (register maps as data). `CONFIG_SCHEMA` and the setup/unload entry points land with
the I/O layer (one coordinator per bus over pymodbus); see docs/modbus_tank.md.
"""
