"""Settings of one climate beacon: edit this file before copying it to the board.

Plain module attributes so MicroPython reads them without parsing anything; main.run() takes
any object with the same attributes (the tests pass their own).
"""

# 32 hex characters (16 bytes) turn on AES-CCM encryption; "" sends plain BTHome.
# Generate one with: python -c "import secrets; print(secrets.token_hex(16))"
BINDKEY = ""

# Complete local name when it fits; cut to a shortened name when encryption leaves less room.
NAME = "MDR-climate"

# Seconds asleep between two measurements (low power: the radio and CPU are off meanwhile).
INTERVAL_S = 60
# How long each measurement is advertised, and how often within that window.
ADVERTISE_MS = 1500
ADV_INTERVAL_US = 100000
# "deep" (lowest power, reboots at wake-up) or "light" (keeps RAM, wakes faster).
SLEEP = "deep"
# Device-info bit 2: tell receivers not to expect regular advertisements.
TRIGGER_BASED = False

# "sht3x" or "aht20".
SENSOR = "sht3x"
I2C_ID = 0
PIN_SDA = 21
PIN_SCL = 22
I2C_FREQ = 100000

# Battery through a 1:2 divider (two 100 kOhm) into ADC1; ADC2 pins are unusable with the radio.
PIN_BATTERY = 35
BATTERY_DIVIDER = 2
# Linear 0..100 % between these cell voltages (LiFePO4 cell powering the ESP32 directly).
BATTERY_EMPTY_MV = 2900
BATTERY_FULL_MV = 3400

# Encryption counter high-water mark on flash: written once per COUNTER_BLOCK wake-ups, so a
# power loss (RTC memory lost) never reuses a CCM nonce.
COUNTER_FILE = "/climate_beacon.counter"
COUNTER_BLOCK = 256

# The MAC in the nonce must be the address the radio advertises from. None: ask the radio.
MAC = None
