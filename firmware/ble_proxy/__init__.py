"""BLE proxy firmware: an ESP32 that forwards raw advertisements to the hub (docs/firmware.md)."""
