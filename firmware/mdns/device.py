"""ESP32 glue for the mDNS Responder: one non-blocking UDP socket on 5353, stepped by the main loop.

MicroPython only in practice (tests only compile it); `socket` is reached by name inside
functions, so the module imports anywhere. The socket is bound to 0.0.0.0:5353 and joined to
224.0.0.251 on the station interface's address; lwIP sends multicast out of the default
interface, which is the station when the access point interface is off.

    import network, time
    from mdns.responder import Responder, Service
    from mdns.device import MdnsDevice, station_address
    wlan = network.WLAN(network.STA_IF)
    responder = Responder("maderas-tank-00ab", station_address(wlan),
                          [Service("Tank 00AB", "_modbus._tcp", 502, {"vendor": "Maderas", "fw": "1.0"})])
    mdns = MdnsDevice(responder, wlan)
    while True:
        mdns.poll(now_ms())      # now_ms: time.ticks_ms unwrapped into a monotonic count
        ...                      # the device's other work; call poll() at least every 50-100 ms

Every link change (Wi-Fi lost, a new DHCP address) closes the socket; the next connection opens
a new one, joins the group on the new address and starts probing again (RFC 6762 section 8.3).
"""

from .responder import MDNS_ADDR, MDNS_PORT, ip4_bytes

MAX_PACKETS_PER_POLL = 8  # a flood of queries cannot starve the device's own loop
RETRY_MS = 5000  # after a failed open (bind or join refused), wait this long before the next try
RECEIVE_SIZE = 1500  # the ESP32's Ethernet-sized MTU: larger datagrams do not arrive anyway


def _board(name):
    """A MicroPython-only module, imported by name."""
    return __import__(name)


def station_address(wlan):
    """A callable for Responder: the station's IPv4 address while connected, else None."""

    def address():
        if not wlan.isconnected():
            return None
        return wlan.ifconfig()[0]

    return address


class MdnsDevice:
    """Owns the socket; `poll(now_ms)` reads what arrived, answers, and sends what is due."""

    def __init__(self, responder, wlan, socket_module=None):
        self.responder = responder
        self.wlan = wlan
        self.socket_module = socket_module
        self.sock = None
        self.joined = None  # the address the group was joined on
        self.send_errors = 0
        self.open_error = None  # the last OSError from opening the socket, for the device's status
        self.retry_at = None

    def _open(self, address, now_ms):
        socket = self.socket_module or _board("socket")
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("0.0.0.0", MDNS_PORT))
            # struct ip_mreq: the group, then the interface's own address
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, ip4_bytes(MDNS_ADDR) + ip4_bytes(address))
            ttl_option = getattr(socket, "IP_MULTICAST_TTL", None)
            if ttl_option is not None:
                sock.setsockopt(socket.IPPROTO_IP, ttl_option, 255)
            sock.setblocking(False)
        except Exception:
            sock.close()
            raise
        self.sock = sock
        self.joined = address
        self.responder.start(now_ms)

    def close(self, now_ms=None):
        """Send the goodbye (when `now_ms` is given) and close the socket."""
        if self.sock is None:
            return
        if now_ms is not None:
            self._send(self.responder.stop(now_ms))
        try:
            self.sock.close()
        except OSError:
            pass
        self.sock = None
        self.joined = None

    def poll(self, now_ms):
        """One non-blocking step: follow the link, handle waiting datagrams, send what is due."""
        address = self.wlan.ifconfig()[0] if self.wlan.isconnected() else None
        if ip4_bytes(address) is None:
            address = None
        if address != self.joined:
            self.close()
            if address is None or self.retry_at is not None and now_ms - self.retry_at < 0:
                return
            try:
                self._open(address, now_ms)
            except OSError as err:
                self.open_error = err
                self.retry_at = now_ms + RETRY_MS
                return
            self.open_error = self.retry_at = None
        sock = self.sock
        if sock is None:
            return
        for _ in range(MAX_PACKETS_PER_POLL):
            try:
                data, source = sock.recvfrom(RECEIVE_SIZE)
            except OSError:  # EAGAIN: nothing more waiting
                break
            self._send(self.responder.handle(data, source[0], source[1], now_ms))
        self._send(self.responder.poll(now_ms))

    def _send(self, packets):
        sock = self.sock
        if sock is None:
            return
        for packet, dest in packets:
            try:
                sock.sendto(packet, dest)
            except OSError:  # lwIP out of buffers: mDNS tolerates a lost packet
                self.send_errors += 1
