"""Host-side simulator for the tank sensor: a pty serial line, tank physics, our firmware on it.

CPython only (threads, ptys). Modules: pty_line (PtyLine), tank_physics (SimulatedTank),
sensor_sim (SensorSimulator, MultiSensorBus); `python -m firmware.sim` runs a demo bus.
"""
