"""BTHome v2 climate beacon firmware: temperature, humidity and battery over BLE advertisements.

Pure encoder shared by the ESP32 (MicroPython) build and the host simulator; main.py holds the
only hardware code. Modules: bthome (objects, AES-CCM, AD payload), sensors (SHT3x, AHT20),
main (wake cycle, persistent counter), config (settings edited per board).
"""
