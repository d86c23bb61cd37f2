"""BLE proxy entry point: scan passively, forward raw advertisements to the hub over Wi-Fi.

Install the package as /lib/ble_proxy/ and put `import ble_proxy.main as m; m.run()` in the
board's /main.py (README.md beside this file). Hardware modules (`network`, `bluetooth`,
`socket`, `select`, MicroPython's `time`) are reached inside functions only or passed in, so
this module imports under CPython and the tests drive it with fakes, step by step.

With ANNOUNCE on (config.py), the proxy announces itself as `<id>._maderas-proxy._tcp` with the
firmware's own mDNS responder (firmware/mdns), so the hub lists it under Discovered.

The radio's IRQ handler only copies each result into a ScanBuffer. `Proxy.step()` does one
non-blocking round: keep Wi-Fi up, connect to the hub, answer its CHALLENGE, read frames (PING,
ERROR), send the buffer as BATCH frames every BATCH_MS, ping a quiet hub. Any failure closes the
link and waits a doubling backoff before the next attempt; the buffer keeps filling meanwhile.
"""

from . import protocol

FIRMWARE = "ble_proxy 1.0"

_IRQ_SCAN_RESULT = 5
_IRQ_SCAN_DONE = 6

# Link states.
OFFLINE = "offline"
WAIT_CHALLENGE = "wait-challenge"
WAIT_WELCOME = "wait-welcome"
STREAMING = "streaming"


def _board(name):
    """A MicroPython-only module (network, bluetooth, socket, select, time), imported by name."""
    return __import__(name)


class HubRefused(Exception):
    """The hub sent ERROR: its code and reason."""

    def __init__(self, code, reason):
        Exception.__init__(self, f"hub refused (code {code}): {reason}")
        self.code = code
        self.reason = reason


class ScanBuffer:
    """Bounded queue of scan results: the oldest is dropped (and counted) when full.

    The IRQ handler runs as a scheduled callback between the main loop's bytecodes, so it may
    run in the middle of `drain()` but never the other way round. `drain()` therefore swaps the
    whole list in one assignment: a result appended before the swap lands in the list drained,
    one after it in the fresh list; nothing is lost or taken twice.
    """

    def __init__(self, capacity):
        self.capacity = capacity
        self.items = []
        self.dropped = 0

    def put(self, item):
        """Producer side (the IRQ handler)."""
        items = self.items
        if len(items) >= self.capacity:
            items.pop(0)
            self.dropped += 1
        items.append(item)

    def drain(self):
        """Consumer side: everything queued, oldest first."""
        items = self.items
        self.items = []
        return items

    def __len__(self):
        return len(self.items)


class Backoff:
    """Retry delays that double from `first_ms` up to `last_ms`; reset() after a success."""

    def __init__(self, first_ms, last_ms):
        self.first_ms = first_ms
        self.last_ms = last_ms
        self.next_ms = first_ms

    def next(self):
        delay = self.next_ms
        self.next_ms = min(self.last_ms, delay * 2)
        return delay

    def reset(self):
        self.next_ms = self.first_ms


class Clock:
    """Monotonic milliseconds since boot as an unbounded int, from wrapping `ticks_ms`."""

    def __init__(self, time_module):
        self.time = time_module
        self.last = time_module.ticks_ms()
        self.total = 0

    def ms(self):
        # Called from the main loop only (never the IRQ), at least every few days.
        now = self.time.ticks_ms()
        self.total += self.time.ticks_diff(now, self.last)
        self.last = now
        return self.total


class SocketLink:
    """A TCP connection to the hub: blocking sends with a timeout, non-blocking receives."""

    def __init__(self, host, port, timeout_ms):
        socket = _board("socket")
        select = _board("select")
        self.select = select
        address = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)[0][-1]
        self.sock = socket.socket()
        try:
            self.sock.settimeout(timeout_ms / 1000)
            self.sock.connect(address)
        except Exception:
            self.sock.close()
            raise
        self.poller = select.poll()
        self.poller.register(self.sock, select.POLLIN)

    def send(self, data):
        self.sock.sendall(data)

    def recv(self):
        """Bytes waiting now (b"" for none); OSError when the hub closed the connection."""
        for entry in self.poller.poll(0):
            if entry[1] & (self.select.POLLHUP | self.select.POLLERR):
                raise OSError("connection to the hub lost")
            data = self.sock.recv(1024)
            if not data:
                raise OSError("hub closed the connection")
            return data
        return b""

    def close(self):
        self.sock.close()


class Proxy:
    """One proxy: scan results in through `on_irq`, the hub link driven by `step()`."""

    def __init__(self, cfg, wlan, ble, open_link, time_module, log=print):
        self.cfg = cfg
        self.wlan = wlan
        self.ble = ble
        self.open_link = open_link
        self.time = time_module
        self.clock = Clock(time_module)
        self.log = log
        self.buffer = ScanBuffer(cfg.BUFFER_SIZE)
        self.wifi_backoff = Backoff(cfg.BACKOFF_MIN_MS, cfg.BACKOFF_MAX_MS)
        self.hub_backoff = Backoff(cfg.BACKOFF_MIN_MS, cfg.BACKOFF_MAX_MS)
        self.state = OFFLINE
        self.link = None
        self.decoder = None
        self.wait_until = 0
        self.wifi_since = None
        self.opened_at = 0
        self.last_rx = 0
        self.last_batch = 0
        self.ping_seq = 0
        self.ping_sent = False
        self.scan_done = False
        self.oversize = 0
        self.sessions = 0
        self.last_error = None

    # ---- radio

    def start_scan(self):
        """Radio on, IRQ handler in, scan forever (duration 0) with the configured duty."""
        self.ble.active(True)
        self.ble.irq(self.on_irq)
        self.ble.gap_scan(0, self.cfg.SCAN_INTERVAL_US, self.cfg.SCAN_WINDOW_US, self.cfg.ACTIVE_SCAN)
        self.scan_done = False

    def on_irq(self, event, data):
        """BLE IRQ: copy each scan result (its buffers are reused after return) into the buffer."""
        if event == _IRQ_SCAN_RESULT:
            addr_type, addr, adv_type, rssi, adv_data = data
            self.buffer.put((addr_type, bytes(addr), adv_type, rssi, bytes(adv_data), self.time.ticks_ms()))
        elif event == _IRQ_SCAN_DONE:
            self.scan_done = True  # the stack stopped the scan: step() restarts it

    # ---- link

    def step(self):
        """One non-blocking round of Wi-Fi, hub connection and sending."""
        now = self.clock.ms()
        if self.scan_done:
            self.start_scan()
        if now < self.wait_until:
            return
        if not self.wlan.isconnected():
            self._close("Wi-Fi lost")
            self._wifi(now)
            return
        self.wifi_since = None
        self.wifi_backoff.reset()
        try:
            if self.link is None:
                self._open(now)
            else:
                self._service(now, self.link, self.decoder)
        except (OSError, protocol.ProtocolError, HubRefused) as exc:
            self._fail(now, exc)

    def _wifi(self, now):
        if self.wifi_since is None:
            self.log("ble_proxy: Wi-Fi connecting to", self.cfg.WIFI_SSID)
            self.wlan.active(True)
            self.wlan.connect(self.cfg.WIFI_SSID, self.cfg.WIFI_PASSWORD)
            self.wifi_since = now
        elif now - self.wifi_since >= self.cfg.WIFI_TIMEOUT_MS:
            self.wlan.disconnect()
            self.wifi_since = None
            self.wait_until = now + self.wifi_backoff.next()
            self.log("ble_proxy: Wi-Fi timed out; retrying later")

    def _open(self, now):
        self.link = self.open_link(self.cfg.HUB_HOST, self.cfg.HUB_PORT, self.cfg.CONNECT_TIMEOUT_MS)
        self.decoder = protocol.FrameDecoder()
        self.state = WAIT_CHALLENGE
        self.opened_at = now
        self.last_rx = now
        self.ping_sent = False

    def _service(self, now, link, decoder):
        data = link.recv()
        if data:
            self.last_rx = now
            self.ping_sent = False
            for ftype, body in decoder.feed(data):
                self._handle(now, link, protocol.decode_body(ftype, body))
        if self.state != STREAMING:
            if now - self.opened_at >= self.cfg.HANDSHAKE_TIMEOUT_MS:
                raise OSError("hub did not finish the handshake")
            return
        if now - self.last_rx >= self.cfg.IDLE_TIMEOUT_MS:
            raise OSError("hub silent")
        if now - self.last_rx >= self.cfg.PING_MS and not self.ping_sent:
            self.ping_seq = (self.ping_seq + 1) & protocol.U32
            link.send(protocol.encode_ping(self.ping_seq))
            self.ping_sent = True
        if now - self.last_batch >= self.cfg.BATCH_MS:
            self.last_batch = now
            self._send_batches(now, link)

    def _handle(self, now, link, message):
        kind = type(message)
        if kind is protocol.Error:
            raise HubRefused(message.code, message.reason)
        if kind is protocol.Ping:
            link.send(protocol.encode_pong(message.seq))
        elif kind is protocol.Pong:
            pass
        elif kind is protocol.Challenge and self.state == WAIT_CHALLENGE:
            cfg = self.cfg
            proof = protocol.proof(cfg.TOKEN, message.nonce, cfg.PROXY_ID)
            link.send(protocol.encode_hello(cfg.PROXY_ID, FIRMWARE, proof))
            self.state = WAIT_WELCOME
        elif kind is protocol.Welcome and self.state == WAIT_WELCOME:
            self.state = STREAMING
            self.sessions += 1
            self.last_batch = now
            self.hub_backoff.reset()
            self.log("ble_proxy: streaming to the hub")
        else:
            raise protocol.MalformedFrame(f"unexpected {kind.__name__} in state {self.state}")

    def _records(self, now):
        """The buffer as protocol records, timestamps on the proxy's monotonic clock."""
        ticks_now = self.time.ticks_ms()
        records = []
        for addr_type, addr, adv_type, rssi, adv_data, ticks in self.buffer.drain():
            if len(adv_data) > protocol.MAX_AD_DATA or not 0 <= adv_type < protocol.ADV_TYPES:
                self.oversize += 1  # not a legacy advertisement: the protocol cannot carry it
                continue
            time_ms = now - self.time.ticks_diff(ticks_now, ticks)
            records.append(protocol.Record(addr, addr_type & 3, adv_type, rssi, time_ms, adv_data))
        return records

    def _send_batches(self, now, link):
        records = self._records(now)
        dropped = self.buffer.dropped + self.oversize
        for i in range(0, len(records), protocol.MAX_BATCH):
            link.send(protocol.encode_batch(records[i : i + protocol.MAX_BATCH], now, dropped))

    def _close(self, why):
        if self.link is not None:
            try:
                self.link.close()
            except OSError:
                pass
            self.log("ble_proxy: link closed:", why)
        self.link = None
        self.decoder = None
        self.state = OFFLINE

    def _fail(self, now, exc):
        self.last_error = exc
        link = self.link
        if link is not None and isinstance(exc, protocol.ProtocolError):
            try:
                link.send(protocol.encode_error(exc.code, str(exc)))
            except OSError:
                pass
        self._close(str(exc) or type(exc).__name__)
        self.wait_until = now + self.hub_backoff.next()


SERVICE_TYPE = "_maderas-proxy._tcp"


def host_label(proxy_id):
    """`maderas-proxy-<id>`: the id lower-cased, anything but a-z 0-9 - made '-'."""
    out = ""
    for ch in proxy_id.lower():
        out += ch if ("a" <= ch <= "z") or ("0" <= ch <= "9") or ch == "-" else "-"
    return "maderas-proxy-" + (out.strip("-") or "proxy")


def announcement(service_class, proxy_id, hub_port, firmware=FIRMWARE):
    """The proxy's mDNS service: SRV port 0 (it listens on nothing, it dials the hub), TXT id, fw, proto, hub_port."""
    txt = {"id": proxy_id, "fw": firmware, "proto": str(protocol.VERSION), "hub_port": str(hub_port)}
    return service_class(proxy_id, SERVICE_TYPE, 0, txt)


def board_mdns(cfg, wlan):
    """The announcing MdnsDevice on the board (the `mdns` package installed beside this one)."""
    package = _board("mdns.device")  # imports mdns, mdns.device and mdns.responder; returns mdns
    service = announcement(package.responder.Service, cfg.PROXY_ID, cfg.HUB_PORT)
    responder = package.responder.Responder(host_label(cfg.PROXY_ID), package.device.station_address(wlan), [service])
    return package.device.MdnsDevice(responder, wlan)


def build(cfg, network, bluetooth, time_module, open_link=None, log=print):
    """Wire the board's Wi-Fi, radio and sockets into a Proxy."""
    wlan = network.WLAN(network.STA_IF)
    return Proxy(cfg, wlan, bluetooth.BLE(), open_link or SocketLink, time_module, log=log)


def run(cfg=None, network=None, bluetooth=None, time_module=None, open_link=None, steps=None, mdns=None):
    """Scan and forward forever (tests pass fakes, an MdnsDevice of their own and a number of steps)."""
    if cfg is None:
        from . import config as cfg
    on_board = network is None
    if network is None:
        network = _board("network")
    if bluetooth is None:
        bluetooth = _board("bluetooth")
    if time_module is None:
        time_module = _board("time")
    proxy = build(cfg, network, bluetooth, time_module, open_link)
    if mdns is None and on_board and getattr(cfg, "ANNOUNCE", True):
        mdns = board_mdns(cfg, proxy.wlan)
    proxy.start_scan()
    done = 0
    while steps is None or done < steps:
        proxy.step()
        if mdns is not None:
            mdns.poll(proxy.clock.ms())
        time_module.sleep_ms(cfg.TICK_MS)
        done += 1
    return proxy
