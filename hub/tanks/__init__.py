"""The tank model shared by every integration that measures a tank (modbus_tank, ble_climate's Mopeka).

`geometry` turns one raw reading into a level and a volume, `forecast` turns readings over time into
a filtered level, a consumption rate and deliveries, `model.TankModel` runs both for one tank and
says what the entities and the `tank_refilled` event carry, `schema` validates the `tank:` block and
`descriptions` names the entities. It lives in the core because integrations may not import each
other (docs/integrations.md) and two of them need it.
"""
