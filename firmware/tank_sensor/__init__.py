"""RS-485 tank level sensor firmware: ultrasonic or 4-20 mA pressure level -> Modbus RTU slave.

Pure logic shared by the ESP32 (MicroPython) build and the host simulator; main.py holds the
only hardware code. Modules: modbus_slave (CRC, framer, FC03/06/16), registers (the
"maderas_tank_v1" map), measure (echo/current -> level, median filter), device (TankSensor).
"""
