"""MicroPython entry point for the Wi-Fi variant: the same sensor served over Modbus TCP, announced by mDNS.

Install /lib/tank_sensor/ and /lib/mdns/ and put `import tank_sensor.main_wifi as m; m.run()` in the
board's /main.py (docs/firmware.md). The JSON store holds `wifi_ssid` and `wifi_password` (written
at installation) beside the factory `serial` and `pin`. Under CPython this module only compiles and
imports: `machine`, `network`, `socket` and `select` are reached inside functions.

One loop, nothing blocking for long: Wi-Fi (re)connection, the listening socket, up to
MAX_CLIENTS client sockets (each with its `TcpSession`), the mDNS responder, and a measurement
every 200 ms. A measurement blocks for up to the echo timeout (40 ms), which a Modbus TCP master
with a 1 s timeout does not notice.
"""

from .device import TankSensor
from .main import ECHO_TIMEOUT_US, MEASURE_PERIOD_US, PIN_ADC, PIN_ECHO, PIN_RESET, PIN_TRIG
from .main import Esp32Hardware, JsonFileStore, TicksClock
from .modbus_tcp import ProtocolError
from .registers import FIRMWARE_VERSION, VARIANT_WIFI, serial_text

MODBUS_PORT = 502
MAX_CLIENTS = 4
IDLE_CLOSE_US = 120000000  # a master silent for two minutes is gone
RECONNECT_US = 10000000  # Wi-Fi retried every 10 s while down
SERVICE_TYPE = "_modbus._tcp"


class WifiHardware(Esp32Hardware):
    """The sensor pins of the RS-485 board, without the UART: this board has no transceiver."""

    def __init__(self):
        import machine

        self._machine = machine
        self.trig = machine.Pin(PIN_TRIG, machine.Pin.OUT, value=0)
        self.echo = machine.Pin(PIN_ECHO, machine.Pin.IN)
        self.adc = machine.ADC(machine.Pin(PIN_ADC), atten=machine.ADC.ATTN_11DB)

    def uart_read(self):
        return None

    def uart_write(self, data):
        pass

    def uart_set_baud(self, baud):
        pass


def _mdns():
    """The responder package: top-level `mdns` on the board, `firmware.mdns` in this repository."""
    try:
        import mdns.device
        import mdns.responder

        return mdns.responder, mdns.device
    except ImportError:
        from firmware.mdns import device, responder

        return responder, device


def announcement(sensor, serial):
    """The mDNS service: instance name, type, port and the TXT the hub's pairing reads."""
    Service = _mdns()[0].Service

    version = "%d.%d" % (FIRMWARE_VERSION >> 8, FIRMWARE_VERSION & 0xFF)
    txt = {"vendor": "maderas", "model": "maderas_tank_v1", "fw": version,
           "unit": str(sensor.registers.unit_id), "serial": serial}
    return Service("Maderas tank " + serial, SERVICE_TYPE, MODBUS_PORT, txt)


class Clients:
    """The accepted connections: socket -> [session, last activity us]."""

    def __init__(self, sensor):
        self.sensor = sensor
        self.open = {}

    def accept(self, listener, now):
        try:
            conn, _addr = listener.accept()
        except OSError:
            return
        if len(self.open) >= MAX_CLIENTS:
            conn.close()
            return
        conn.setblocking(False)
        self.open[conn] = [self.sensor.tcp_session(), now]

    def service(self, now):
        for conn in list(self.open):
            entry = self.open[conn]
            try:
                data = conn.recv(512)
            except OSError:
                data = None  # nothing yet (EAGAIN)
            if data == b"":
                self.close(conn)
                continue
            if data:
                entry[1] = now
                try:
                    reply = entry[0].feed(data)
                except ProtocolError:
                    self.close(conn)
                    continue
                if reply:
                    try:
                        conn.send(reply)
                    except OSError:
                        self.close(conn)
                        continue
            elif now - entry[1] > IDLE_CLOSE_US:
                self.close(conn)

    def close(self, conn):
        self.open.pop(conn, None)
        try:
            conn.close()
        except OSError:
            pass

    def close_all(self):
        for conn in list(self.open):
            self.close(conn)


def run():
    """Join the Wi-Fi, serve Modbus TCP and mDNS, measure; forever."""
    import machine
    import network
    import socket
    import time

    responder_module, device_module = _mdns()
    store = JsonFileStore()
    clock = TicksClock()
    sensor = TankSensor(WifiHardware(), store, clock, variant=VARIANT_WIFI)
    if machine.Pin(PIN_RESET, machine.Pin.IN, machine.Pin.PULL_UP).value() == 0:
        sensor.factory_reset()
    serial = serial_text(store.get("serial")).strip() or "UNSET"
    wlan = network.WLAN(network.STA_IF)
    wlan.active(True)
    address = device_module.station_address(wlan)
    responder = responder_module.Responder("maderas-tank-" + serial.lower(), address, [announcement(sensor, serial)])
    mdns = device_module.MdnsDevice(responder, wlan)
    clients = Clients(sensor)
    listener = None
    next_measure = clock.monotonic_us()
    next_join = 0
    while True:
        now = clock.monotonic_us()
        if not wlan.isconnected():
            if listener is not None:
                clients.close_all()
                listener.close()
                listener = None
            if now >= next_join:
                wlan.connect(store.get("wifi_ssid", ""), store.get("wifi_password", ""))
                next_join = now + RECONNECT_US
        elif listener is None:
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("0.0.0.0", MODBUS_PORT))
            listener.listen(MAX_CLIENTS)
            listener.setblocking(False)
        if listener is not None:
            clients.accept(listener, now)
            clients.service(now)
        mdns.poll(now // 1000)
        if now >= next_measure:
            sensor.poll_measurement()  # blocks up to ECHO_TIMEOUT_US
            next_measure = now + MEASURE_PERIOD_US
        time.sleep_ms(5)


__all__ = ["ECHO_TIMEOUT_US", "Clients", "WifiHardware", "announcement", "run"]
