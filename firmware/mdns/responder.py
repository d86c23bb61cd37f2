"""A minimal mDNS / DNS-SD responder (RFC 6762 / 6763), sans-IO: bytes in, bytes out, time passed in.

Pure and MicroPython-compatible (no typing, struct, collections or CPython-only modules; integers
only; packets built in one bytearray). The ESP32 glue (device.py) and the host runner
(firmware/sim/mdns_host.py) drive the same state machine:

    r = Responder("maderas-tank-00ab", address, [Service("Tank 00AB", "_modbus._tcp", 502, txt)])
    r.start(now_ms)
    every loop: for packet, dest in r.poll(now_ms): send
    on a datagram: for packet, dest in r.handle(data, src_ip, src_port, now_ms): send
    r.stop(now_ms) -> the goodbye packets

`dest` is an (ip, port) tuple: MDNS_GROUP for multicast, the asker for unicast replies.
States: idle -> probing (3 probes 250 ms apart) -> announcing (2 announcements 1 s apart) ->
running -> stopped. A name conflict while probing renames ("Name (2)", "host-2") and probes again.
"""

import random

MDNS_ADDR = "224.0.0.251"
MDNS_PORT = 5353
MDNS_GROUP = (MDNS_ADDR, MDNS_PORT)

T_A = 1
T_PTR = 12
T_TXT = 16
T_SRV = 33
T_ANY = 255
C_IN = 1
C_ANY = 255
FLUSH = 0x8000  # the cache-flush bit in a record's class; the QU bit in a question's
QR = 0x8000
RESPONSE_FLAGS = 0x8400  # QR + authoritative

HOST_TTL = 120  # A and SRV: records tied to the host (RFC 6762 section 10)
OTHER_TTL = 4500  # PTR and TXT
LEGACY_TTL = 10  # cap in legacy unicast replies (section 6.7)

PROBES = 3
PROBE_INTERVAL_MS = 250
ANNOUNCEMENTS = 2
ANNOUNCE_INTERVAL_MS = 1000
LOST_TIEBREAK_MS = 1000  # section 8.2: the loser of simultaneous probes waits, then probes again
CONFLICT_WINDOW_MS = 10000  # section 8.1: after 15 conflicts in 10 s, probe at most every 5 s
CONFLICT_LIMIT = 15
CONFLICT_BACKOFF_MS = 5000
MULTICAST_MIN_MS = 1000  # section 6: one multicast of a record per second at most
PROBE_DEFENSE_MIN_MS = 250  # ... but a probe is answered if the record went out over 250 ms ago

MAX_PACKET = 9000  # section 17
MAX_STEPS = 20000  # labels and pointers followed per packet: bounds the work on hostile input
MAX_QUESTIONS = 64

IDLE = "idle"
PROBING = "probing"
ANNOUNCING = "announcing"
RUNNING = "running"
STOPPED = "stopped"

LOCAL = b"local"
SERVICES = (b"_services", b"_dns-sd", b"_udp", LOCAL)


class Malformed(Exception):
    """A packet that does not parse: it is dropped."""


def fold(label):
    """ASCII-lowercase one label: DNS names compare case-insensitively, ASCII only (section 16)."""
    for b in label:
        if 65 <= b <= 90:
            return bytes(b + 32 if 65 <= b <= 90 else b for b in label)
    return label


def fold_name(labels):
    return tuple(fold(label) for label in labels)


def name_text(labels):
    """Labels as a dotted name ending in '.', for people (not for the wire)."""
    return ".".join(label.decode() for label in labels) + "."


def ip4_bytes(address):
    """'10.0.0.7' -> 4 bytes; None for anything else (no address yet, or not IPv4)."""
    if not isinstance(address, str):
        return None
    parts = address.split(".")
    if len(parts) != 4:
        return None
    out = bytearray(4)
    for i in range(4):
        p = parts[i]
        if not p or len(p) > 3 or not all("0" <= c <= "9" for c in p) or int(p) > 255:
            return None
        out[i] = int(p)
    if out == bytearray(4):
        return None
    return bytes(out)


def encode_name(labels):
    """Uncompressed wire form: the canonical rdata of names, for comparisons."""
    out = bytearray()
    for label in labels:
        out.append(len(label))
        out += label
    out.append(0)
    return bytes(out)


def _u16(out, value):
    out.append((value >> 8) & 0xFF)
    out.append(value & 0xFF)


def _ldh(c):
    """Letter, digit or hyphen, ASCII only: what host names and service names allow."""
    return "a" <= c <= "z" or "A" <= c <= "Z" or "0" <= c <= "9" or c == "-"


def _check_label(label, what):
    if not 1 <= len(label) <= 63:
        raise ValueError(f"{what} must be 1..63 bytes, got {len(label)}")


def encode_txt(txt):
    """RFC 6763 section 6: key=value strings; pairs (or a dict); None means a key alone (a flag)."""
    items = txt.items() if isinstance(txt, dict) else (txt or ())
    out = bytearray()
    seen = []
    for key, value in items:
        if not key or not all(0x20 <= ord(c) <= 0x7E and c != "=" for c in key):
            raise ValueError(f"TXT key {key!r} must be printable ASCII without '='")
        if key.lower() in seen:
            raise ValueError(f"TXT key {key!r} given twice")
        seen.append(key.lower())
        entry = key.encode()
        if value is not None:
            if isinstance(value, int):
                value = str(value)
            entry += b"=" + (value.encode() if isinstance(value, str) else bytes(value))
        if len(entry) > 255:
            raise ValueError(f"TXT string for {key!r} is {len(entry)} bytes; at most 255")
        out.append(len(entry))
        out += entry
    return bytes(out) if out else b"\x00"  # no TXT data is one empty string (section 6.1)


def _truncate_utf8(data, size):
    """At most `size` bytes of UTF-8 text, cut before a continuation byte."""
    if len(data) <= size:
        return data
    while size > 0 and (data[size] & 0xC0) == 0x80:
        size -= 1
    return data[:size]


class Service:
    """One DNS-SD service: instance name (UTF-8, <= 63 bytes), type like `_modbus._tcp`, port, TXT."""

    def __init__(self, instance, service_type, port, txt=None, priority=0, weight=0):
        base = instance.encode()
        _check_label(base, "instance name")
        parts = service_type.rstrip(".").split(".")
        if len(parts) == 3 and parts[2] == "local":
            parts = parts[:2]
        if (
            len(parts) != 2
            or parts[1] not in ("_tcp", "_udp")
            or not 2 <= len(parts[0]) <= 16
            or parts[0][0] != "_"
            or not all(_ldh(c) for c in parts[0][1:])
        ):
            raise ValueError(f"service type {service_type!r} must look like _name._tcp (name 1..15 characters)")
        if not 0 <= port <= 65535:
            raise ValueError(f"port {port} out of range")
        self.base = base
        self.instance = base  # current name label: renamed "Name (2)" after a conflict
        self.type_labels = (parts[0].encode(), parts[1].encode(), LOCAL)
        self.port = port
        self.priority = priority
        self.weight = weight
        self.txt = encode_txt(txt)
        self.attempt = 1

    def set_txt(self, txt):
        """New TXT data; call Responder.reannounce(now) to publish it."""
        self.txt = encode_txt(txt)

    def labels(self):
        return (self.instance,) + self.type_labels

    def name(self):
        """The current instance name as text, e.g. 'Tank 00AB (2)'."""
        return self.instance.decode()

    def full_name(self):
        return self.name() + "." + name_text(self.type_labels)

    def rename(self):
        self.attempt += 1
        suffix = f" ({self.attempt})".encode()
        self.instance = _truncate_utf8(self.base, 63 - len(suffix)) + suffix


class _Writer:
    """Builds one DNS message in a bytearray, compressing names against earlier exact suffixes."""

    def __init__(self, ident, flags):
        self.buf = bytearray(12)
        self.buf[0] = (ident >> 8) & 0xFF
        self.buf[1] = ident & 0xFF
        self.buf[2] = (flags >> 8) & 0xFF
        self.buf[3] = flags & 0xFF
        self.counts = [0, 0, 0, 0]
        self.offsets = {}

    def name(self, labels, compress=True):
        buf = self.buf
        for i in range(len(labels)):
            suffix = labels[i:]
            if compress and suffix in self.offsets:
                _u16(buf, 0xC000 | self.offsets[suffix])
                return
            if len(buf) < 0x3FFF and suffix not in self.offsets:
                self.offsets[suffix] = len(buf)
            buf.append(len(labels[i]))
            buf += labels[i]
        buf.append(0)

    def question(self, labels, qtype, qclass):
        self.name(labels)
        _u16(self.buf, qtype)
        _u16(self.buf, qclass)
        self.counts[0] += 1

    def record(self, section, rec, ttl, flush):
        """Add `rec` to section 1 (answers), 2 (authority) or 3 (additional); sections in order."""
        buf = self.buf
        self.name(rec[0])
        _u16(buf, rec[1])
        _u16(buf, C_IN | (FLUSH if flush else 0))
        _u16(buf, (ttl >> 16) & 0xFFFF)
        _u16(buf, ttl & 0xFFFF)
        at = len(buf)
        _u16(buf, 0)
        rtype, rdata = rec[1], rec[4]
        if rtype == T_PTR:
            self.name(rdata)
        elif rtype == T_SRV:
            _u16(buf, rdata[0])
            _u16(buf, rdata[1])
            _u16(buf, rdata[2])
            self.name(rdata[3], False)  # uncompressed: legacy resolvers follow RFC 2782
        else:
            buf += rdata
        size = len(buf) - at - 2
        buf[at] = size >> 8
        buf[at + 1] = size & 0xFF
        self.counts[section] += 1

    def finish(self):
        for i in range(4):
            self.buf[4 + 2 * i] = self.counts[i] >> 8
            self.buf[5 + 2 * i] = self.counts[i] & 0xFF
        return bytes(self.buf)


class _Reader:
    """Parses a DNS message defensively: every malformation raises Malformed, work is bounded."""

    def __init__(self, data):
        if not 12 <= len(data) <= MAX_PACKET:
            raise Malformed("size")
        self.data = data
        self.steps = MAX_STEPS
        self.ident = data[0] << 8 | data[1]
        self.flags = data[2] << 8 | data[3]
        self.counts = [data[4 + 2 * i] << 8 | data[5 + 2 * i] for i in range(4)]
        # smallest question: root name + type + class = 5 bytes; smallest record: 11 bytes
        if 12 + 5 * self.counts[0] + 11 * (self.counts[1] + self.counts[2] + self.counts[3]) > len(data):
            raise Malformed("counts larger than the packet")
        self.pos = 12

    def u16(self):
        pos = self.pos
        if pos + 2 > len(self.data):
            raise Malformed("truncated")
        self.pos = pos + 2
        return self.data[pos] << 8 | self.data[pos + 1]

    def name(self):
        """Labels of the name at pos, as sent. Pointers must go strictly backwards: no loops."""
        data = self.data
        pos = self.pos
        limit = pos  # a pointer must point before where this stretch of labels began
        end = -1
        labels = []
        size = 1
        while True:
            self.steps -= 1
            if self.steps < 0:
                raise Malformed("too much work")
            if pos >= len(data):
                raise Malformed("truncated name")
            n = data[pos]
            if n == 0:
                pos += 1
                break
            if n >= 0xC0:
                if pos + 1 >= len(data):
                    raise Malformed("truncated pointer")
                target = (n & 0x3F) << 8 | data[pos + 1]
                if target >= limit:
                    raise Malformed("forward or looping pointer")
                if end < 0:
                    end = pos + 2
                limit = pos = target
                continue
            if n > 63:
                raise Malformed("label type")
            size += n + 1
            if size > 255 or pos + 1 + n > len(data):
                raise Malformed("name too long or truncated")
            labels.append(bytes(data[pos + 1 : pos + 1 + n]))
            pos += 1 + n
        self.pos = pos if end < 0 else end
        return tuple(labels)

    def questions(self):
        """(name as sent, folded name, type, class) each."""
        out = []
        for _ in range(self.counts[0]):
            labels = self.name()
            qtype = self.u16()
            out.append((labels, fold_name(labels), qtype, self.u16()))
        return out

    def records(self, count):
        """(folded name, type, class, ttl, canonical rdata) each; PTR and SRV rdata names expanded, folded."""
        out = []
        data = self.data
        for _ in range(count):
            labels = fold_name(self.name())
            rtype = self.u16()
            rclass = self.u16()
            ttl = self.u16() << 16
            ttl |= self.u16()
            size = self.u16()
            start, stop = self.pos, self.pos + size
            if stop > len(data):
                raise Malformed("rdata truncated")
            if rtype == T_PTR:
                rdata = encode_name(fold_name(self.name()))
            elif rtype == T_SRV:
                if size < 7:
                    raise Malformed("short SRV")
                self.pos = start + 6
                rdata = bytes(data[start : start + 6]) + encode_name(fold_name(self.name()))
            else:
                rdata = bytes(data[start:stop])
                self.pos = stop
            if self.pos != stop:
                raise Malformed("rdata length")
            out.append((labels, rtype, rclass, ttl, rdata))
        return out


def _canonical(rec):
    """The record's rdata as compared on the wire: names uncompressed and folded."""
    rtype, rdata = rec[1], rec[4]
    if rtype == T_PTR:
        return encode_name(fold_name(rdata))
    if rtype == T_SRV:
        out = bytearray()
        for value in rdata[:3]:
            _u16(out, value)
        return bytes(out) + encode_name(fold_name(rdata[3]))
    return rdata


class Responder:
    """The state machine: probing, announcing, answering, goodbye. Never raises from handle()."""

    def __init__(self, hostname, address, services=(), rand=None):
        host = hostname.rstrip(".")
        if host.endswith(".local"):  # noqa: FURB188 - MicroPython has no str.removesuffix
            host = host[:-6]
        if not all(_ldh(c) for c in host):
            raise ValueError(f"host name {hostname!r}: letters, digits and '-' only")
        _check_label(host.encode(), "host name")
        self.host_base = host.encode()
        self.host = self.host_base
        self.host_attempt = 1
        self.address = address  # a str, a callable returning one (or None), or None
        self.services = list(services)
        self.rand = rand or (lambda n: random.getrandbits(16) % n)
        self.state = IDLE
        self.conflicts = 0  # conflicts met while probing; each renamed the names it hit
        self.malformed = 0  # packets dropped as malformed
        self.errors = 0  # unexpected exceptions caught in handle(): a bug if ever non-zero
        self._due = None
        self._sent = 0  # probes or announcements sent in this round
        self._conflict_times = []
        self._last_multicast = {}
        self._announced_address = None
        self._records = None
        self._records_for = None

    # configuration

    def set_address(self, address):
        """A new IPv4 address (str), a callable returning it, or None; announced at the next poll()."""
        self.address = address

    def current_address(self):
        address = self.address() if callable(self.address) else self.address
        return ip4_bytes(address)

    def hostname(self):
        """The current host name, e.g. 'maderas-tank-00ab.local.' (renamed after a conflict)."""
        return self.host.decode() + ".local."

    def next_due(self):
        """now_ms of the next scheduled probe or announcement; None when nothing is scheduled."""
        return self._due

    # the state machine

    def start(self, now):
        """Begin (or begin again, after a link change) with probing."""
        self.state = PROBING
        self._sent = 0
        self._due = now + self.rand(PROBE_INTERVAL_MS)  # section 8.1: a random 0-250 ms first
        self._last_multicast = {}

    def reannounce(self, now):
        """Records changed (TXT, address): announce them again (section 8.4)."""
        if self.state in (ANNOUNCING, RUNNING):
            self.state = ANNOUNCING
            self._sent = 0
            self._due = now

    def poll(self, now):
        """Packets due at `now_ms`: probes, announcements. Call it often (every loop, or at next_due())."""
        address = self.current_address()
        if address is None:
            return []
        if self.state == RUNNING and address != self._announced_address:
            self.reannounce(now)
        if self._due is None or now - self._due < 0:
            return []
        if self.state == PROBING:
            if self._sent < PROBES:
                self._sent += 1
                self._due = now + PROBE_INTERVAL_MS
                return [(self._probe(), MDNS_GROUP)]
            self.state = ANNOUNCING
            self._sent = 0
        if self.state == ANNOUNCING:
            self._sent += 1
            self._announced_address = address
            if self._sent >= ANNOUNCEMENTS:
                self.state = RUNNING
                self._due = None
            else:
                self._due = now + (ANNOUNCE_INTERVAL_MS << (self._sent - 1))
            records = self.records()
            for rec in records:
                self._last_multicast[self._id(rec)] = now
            return [(self._response(records, (), None, None, OTHER_TTL, True), MDNS_GROUP)]
        return []

    def stop(self, now):
        """Leave: a goodbye (every record with TTL 0) if anything was announced; then stopped."""
        announced = self.state in (ANNOUNCING, RUNNING) and self._announced_address is not None
        self.state = STOPPED
        self._due = None
        if not announced:
            return []
        return [(self._response(self.records(), (), None, None, 0, True), MDNS_GROUP)]

    def handle(self, packet, src_addr, src_port, now, unicast=False):
        """One received datagram -> a list of (packet, dest) to send. Malformed input is dropped.

        `unicast`: the datagram was sent to our own address, not the group; it is answered by
        unicast (section 5.5), when the caller can tell (the host runner can, the ESP32 cannot).
        """
        try:
            return self._handle(packet, src_addr, src_port, now, unicast)
        except Malformed:
            self.malformed += 1
        except Exception:  # noqa: BLE001 - the device loop must survive any input; counted for the tests
            self.errors += 1
        return []

    # records

    def records(self):
        """Our records as (name, type, ttl, unique, rdata, folded name, canonical rdata) tuples."""
        address = self.current_address()
        key = (self.host, address, tuple((s.instance, s.txt, s.port) for s in self.services))
        if self._records_for == key:
            return self._records
        host = (self.host, LOCAL)
        recs = []  # type: list
        if address is not None:
            recs.append((host, T_A, HOST_TTL, True, address))
        types = []  # type: list
        for s in self.services:
            inst = s.labels()
            recs.append((s.type_labels, T_PTR, OTHER_TTL, False, inst))
            recs.append((inst, T_SRV, HOST_TTL, True, (s.priority, s.weight, s.port, host)))
            recs.append((inst, T_TXT, OTHER_TTL, True, s.txt))
            if fold_name(s.type_labels) not in [fold_name(t) for t in types]:
                types.append(s.type_labels)
        for t in types:
            recs.append((SERVICES, T_PTR, OTHER_TTL, False, t))
        self._records = [r + (fold_name(r[0]), _canonical(r)) for r in recs]
        self._records_for = key
        return self._records

    def _id(self, rec):
        return (rec[5], rec[1], rec[6])

    def _unique_names(self):
        return [fold_name((self.host, LOCAL))] + [fold_name(s.labels()) for s in self.services]

    # packets

    def _probe(self):
        """Section 8.1: ANY questions (QU) for our unique names, the proposed records as authority."""
        w = _Writer(0, 0)
        for labels in [(self.host, LOCAL)] + [s.labels() for s in self.services]:
            w.question(labels, T_ANY, C_IN | FLUSH)
        for rec in self.records():
            if rec[3]:
                w.record(2, rec, rec[2], False)
        return w.finish()

    def _response(self, answers, additional, ident, questions, ttl_cap, flush):
        w = _Writer(ident or 0, RESPONSE_FLAGS)
        for q in questions or ():
            w.question(q[0], q[2], q[3])
        for section, recs in ((1, answers), (3, additional)):
            for rec in recs:
                w.record(section, rec, min(rec[2], ttl_cap), flush and rec[3])
        return w.finish()

    def _additional(self, answers):
        """RFC 6763 section 12: SRV, TXT and A after a service PTR; A after an SRV."""
        records = self.records()
        wanted = []
        for rec in answers:
            if rec[1] == T_PTR and rec[5] != SERVICES:
                inst = fold_name(rec[4])
                wanted += [r for r in records if r[5] == inst and r[1] in (T_SRV, T_TXT)]
            if rec[1] == T_SRV or rec[1] == T_PTR and rec[5] != SERVICES:
                wanted += [r for r in records if r[1] == T_A]
        out = []
        for rec in wanted:
            if rec not in answers and rec not in out:
                out.append(rec)
        return out

    # receiving

    def _handle(self, packet, src_addr, src_port, now, direct):
        if self.state not in (PROBING, ANNOUNCING, RUNNING):
            return []
        msg = _Reader(packet)
        if (msg.flags >> 11) & 0xF or msg.flags & 0xF:
            return []  # another opcode, or an rcode: ignored (section 18)
        questions = msg.questions()
        if msg.flags & QR:
            if src_port != MDNS_PORT:
                return []  # section 6: responses from another port are not mDNS
            records = msg.records(msg.counts[1] + msg.counts[2] + msg.counts[3])
            self._check_conflicts(records, now)
            return []
        known = msg.records(msg.counts[1])
        authority = msg.records(msg.counts[2])
        if self.state == PROBING:
            if authority:
                self._tiebreak(authority, now)
            return []
        return self._answer(msg.ident, questions, known, authority, (src_addr, src_port), direct, now)

    def _check_conflicts(self, records, now):
        """A response claiming one of our unique names with other data (same type) is a conflict."""
        ours = {}  # type: dict
        for rec in self.records():
            if rec[3]:
                ours.setdefault((rec[5], rec[1]), []).append(rec[6])
        taken = []  # type: list
        for name, rtype, rclass, ttl, rdata in records:
            mine = ours.get((name, rtype))
            if mine is None or ttl == 0 or rdata in mine or (rclass & 0x7FFF) not in (C_IN, C_ANY):
                continue
            if name not in taken:
                taken.append(name)
        if not taken:
            return
        # Section 9: after probing, a claim on our records sends us back to probing. Unicast answers carry no
        # cache-flush bit (python-zeroconf answers our QU probes so), so a late answer to a probe counts too.
        if self.state != PROBING:
            self.start(now)
            return
        if fold_name((self.host, LOCAL)) in taken:
            self.host_attempt += 1
            suffix = f"-{self.host_attempt}".encode()
            self.host = self.host_base[: 63 - len(suffix)] + suffix
        for s in self.services:
            if fold_name(s.labels()) in taken:
                s.rename()
        self.conflicts += 1
        self._conflict_times = [t for t in self._conflict_times if now - t < CONFLICT_WINDOW_MS] + [now]
        self._sent = 0
        self._due = now + (
            CONFLICT_BACKOFF_MS if len(self._conflict_times) >= CONFLICT_LIMIT else self.rand(PROBE_INTERVAL_MS)
        )

    def _tiebreak(self, authority, now):
        """Section 8.2: simultaneous probes; the lexicographically later record set wins."""
        records = self.records()
        for name in self._unique_names():
            theirs = sorted((r[2] & 0x7FFF, r[1], r[4]) for r in authority if r[0] == name)
            if not theirs:
                continue
            mine = sorted((C_IN, r[1], r[6]) for r in records if r[5] == name and r[3])
            if theirs > mine:  # equal is our own probe looped back
                self._sent = 0
                self._due = now + LOST_TIEBREAK_MS
                return

    def _answer(self, ident, questions, known, authority, source, direct, now):
        legacy = source[1] != MDNS_PORT
        known_ttl = {}  # type: dict
        for name, rtype, rclass, ttl, rdata in known:
            key = (name, rtype, rdata)
            known_ttl[key] = max(ttl, known_ttl.get(key, 0))
        records = self.records()
        min_gap = PROBE_DEFENSE_MIN_MS if authority else MULTICAST_MIN_MS
        multicast = []  # type: list
        unicast = []  # type: list
        for _, name, qtype, qclass in questions[:MAX_QUESTIONS]:
            if (qclass & 0x7FFF) not in (C_IN, C_ANY):
                continue
            for rec in records:
                if rec[5] != name or (qtype != T_ANY and qtype != rec[1]):
                    continue
                if known_ttl.get(self._id(rec), -1) >= rec[2] // 2:
                    continue  # section 7.1: the asker has it with at least half our TTL left
                if legacy or direct or qclass & FLUSH:
                    target = unicast
                else:
                    last = self._last_multicast.get(self._id(rec))
                    if last is not None and now - last < min_gap:
                        continue
                    target = multicast
                if rec not in target:
                    target.append(rec)
        out = []
        if unicast:
            if legacy:  # section 6.7: the ID and the questions echoed, short TTLs, no cache-flush bits
                packet = self._response(
                    unicast, self._additional(unicast), ident, questions[:MAX_QUESTIONS], LEGACY_TTL, False
                )
            else:
                packet = self._response(unicast, self._additional(unicast), None, None, OTHER_TTL, True)
            out.append((packet, source))
        if multicast:
            for rec in multicast:
                self._last_multicast[self._id(rec)] = now
            out.append(
                (self._response(multicast, self._additional(multicast), None, None, OTHER_TTL, True), MDNS_GROUP)
            )
        return out
