"""The proxy <-> hub wire protocol (v1): length-prefixed binary frames over one plain TCP stream.

Pure and MicroPython-compatible (no typing, dataclasses or CPython-only modules): the proxy
firmware, the host simulator and the hub's endpoint all use this one module. Integers are
big-endian unless noted. Default hub port: DEFAULT_PORT.

Frame (every message, both directions):

    offset  size     field
    0       2        N = length of type + body, 1..MAX_FRAME
    2       1        type
    3       N - 1    body

Bodies:

    type  name       from   body
    0x01  CHALLENGE  hub    magic "MDRP" (4) | version u8 | nonce (16, random per connection)
    0x02  HELLO      proxy  magic "MDRP" (4) | version u8 | id_len u8 | proxy id (1..32, [A-Za-z0-9_.-])
                            | fw_len u8 | firmware version (0..32, printable ASCII) | proof (32)
    0x03  WELCOME    hub    empty
    0x10  BATCH      proxy  sent_ms u32 | dropped u32 | count u8 (1..MAX_BATCH) | count x record
    0x20  PING       either seq u32
    0x21  PONG       either seq u32 (echoes the PING's)
    0x7F  ERROR      either code u8 | reason (0..MAX_REASON bytes of UTF-8); the sender then closes

    record: address (6, most significant first, as printed) | address type u8 (0 public, 1 random,
            2/3 resolved) | advertising type u8 (0 ADV_IND, 1 ADV_DIRECT_IND, 2 ADV_SCAN_IND,
            3 ADV_NONCONN_IND, 4 SCAN_RSP) | RSSI i8 dBm | time_ms u32 | data_len u8 (0..31) | AD data

Session: the proxy connects; the hub sends CHALLENGE at once; the proxy answers HELLO with
proof = HMAC-SHA256(token, "MDRP" | version | nonce | proxy id), so the per-proxy token never
crosses the wire and a proof is good for one nonce only; the hub checks it (`verify_proof`,
constant time) and sends WELCOME, or ERROR and closes. Then the proxy sends BATCH frames (about
every 100 ms while it has records); either side PINGs after 15 s of silence and drops the link
after 45 s without any frame. A scan response is its own record (advertising type 4).

Time: time_ms and sent_ms are the proxy's monotonic milliseconds modulo 2**32. A record's age is
(sent_ms - time_ms) mod 2**32, so the hub dates it as (batch arrival - age) on its own clock.
`dropped` counts records lost since boot (buffer overflow), modulo 2**32.

Errors: a decoder raises a ProtocolError subclass naming what was wrong; its `code` is the ERROR
code the receiver should send before closing. A stream decoder that has raised stays broken.
"""

import hashlib

MAGIC = b"MDRP"
VERSION = 1
DEFAULT_PORT = 7700

MAX_FRAME = 4096
MAX_BATCH = 64
MAX_AD_DATA = 31
MAX_ID = 32
MAX_FIRMWARE = 32
MAX_REASON = 200
NONCE_LEN = 16
PROOF_LEN = 32
U32 = 0xFFFFFFFF

T_CHALLENGE = 0x01
T_HELLO = 0x02
T_WELCOME = 0x03
T_BATCH = 0x10
T_PING = 0x20
T_PONG = 0x21
T_ERROR = 0x7F
FRAME_TYPES = (T_CHALLENGE, T_HELLO, T_WELCOME, T_BATCH, T_PING, T_PONG, T_ERROR)

# ERROR codes; any other code is shown as "error <code>" with its reason.
E_AUTH = 1  # wrong proof: bad token
E_UNKNOWN_PROXY = 2  # no token configured on the hub for this proxy id
E_VERSION = 3  # unsupported protocol version
E_MALFORMED = 4  # a frame that does not decode
E_TOO_LARGE = 5  # a frame or batch over the limits
E_TIMEOUT = 6  # handshake not finished in time, or a silent peer
E_REPLACED = 7  # another connection with the same proxy id took over
E_INTERNAL = 8

ADDRESS_TYPES = 4
ADV_TYPES = 5
ADV_NONCONN_IND = 3
SCAN_RSP = 4

_ID_CHARS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-"
_HEADER = 2
_RECORD_FIXED = 14  # address 6, types 2, rssi 1, time 4, data_len 1
_BATCH_FIXED = 9


class ProtocolError(ValueError):
    """Bytes that are not a valid frame; `code` is the ERROR code to answer with."""

    code = E_MALFORMED


class MalformedFrame(ProtocolError):
    """A frame whose body does not match its type's layout."""


class UnknownFrameType(ProtocolError):
    """A frame type this version does not define."""


class FrameTooLarge(ProtocolError):
    """A frame longer than MAX_FRAME (or an encoder asked to build one)."""

    code = E_TOO_LARGE


class BatchTooLarge(ProtocolError):
    """A batch with more than MAX_BATCH records."""

    code = E_TOO_LARGE


class UnsupportedVersion(ProtocolError):
    """The right magic with a protocol version this side does not speak."""

    code = E_VERSION


def _u32(data, i):
    return int.from_bytes(data[i : i + 4], "big")


def _put_u32(value):
    return (value & U32).to_bytes(4, "big")


# ---- HMAC-SHA256 (RFC 2104): MicroPython has hashlib.sha256 but no hmac module.


def hmac_sha256(key, message):
    """HMAC-SHA256 of `message` under `key` (both bytes)."""
    block = 64
    if len(key) > block:
        key = hashlib.sha256(key).digest()
    key = bytes(key) + bytes(block - len(key))
    inner = bytearray(block)
    outer = bytearray(block)
    for i in range(block):
        inner[i] = key[i] ^ 0x36
        outer[i] = key[i] ^ 0x5C
    digest = hashlib.sha256(bytes(inner))
    digest.update(message)
    final = hashlib.sha256(bytes(outer))
    final.update(digest.digest())
    return final.digest()


def compare_digest(a, b):
    """Equality in time independent of where the bytes differ (hmac.compare_digest's job)."""
    if len(a) != len(b):
        return False
    diff = 0
    for i in range(len(a)):
        diff |= a[i] ^ b[i]
    return diff == 0


def _token_bytes(token):
    return token.encode() if isinstance(token, str) else bytes(token)


def proof(token, nonce, proxy_id, version=VERSION):
    """The HELLO proof: HMAC-SHA256(token, magic | version | nonce | proxy id)."""
    return hmac_sha256(_token_bytes(token), MAGIC + bytes([version]) + bytes(nonce) + proxy_id.encode())


def verify_proof(token, nonce, hello):
    """True when a decoded Hello proves knowledge of `token` for this connection's nonce."""
    return compare_digest(proof(token, nonce, hello.proxy_id, hello.version), hello.proof)


# ---- addresses


def format_address(address):
    """6 bytes (most significant first) -> "AA:BB:CC:DD:EE:FF", as bleak prints it."""
    return ":".join(f"{b:02X}" for b in address)


def parse_address(text):
    """Text like AA:BB:CC:DD:EE:FF -> 6 bytes; MalformedFrame when it is not a MAC address."""
    parts = text.split(":")
    if len(parts) != 6 or any(len(p) != 2 for p in parts):
        raise MalformedFrame(f"not a MAC address: {text!r}")
    try:
        return bytes(int(p, 16) for p in parts)
    except ValueError:
        raise MalformedFrame(f"not a MAC address: {text!r}")


# ---- messages


class _Message:
    FIELDS = ()  # type: tuple[str, ...]

    def __eq__(self, other):
        return type(self) is type(other) and all(getattr(self, f) == getattr(other, f) for f in self.FIELDS)

    def __repr__(self):
        inner = ", ".join(f"{f}={getattr(self, f)!r}" for f in self.FIELDS)
        return f"{type(self).__name__}({inner})"


class Challenge(_Message):
    """Hub -> proxy, first frame: the nonce this connection's proof must cover."""

    FIELDS = ("nonce", "version")

    def __init__(self, nonce, version=VERSION):
        self.nonce = nonce
        self.version = version


class Hello(_Message):
    """Proxy -> hub: who it is, what it runs, and its proof of the token."""

    FIELDS = ("proxy_id", "firmware", "proof", "version")

    def __init__(self, proxy_id, firmware, proof, version=VERSION):
        self.proxy_id = proxy_id
        self.firmware = firmware
        self.proof = proof
        self.version = version


class Welcome(_Message):
    """Hub -> proxy: authenticated, start sending."""


class Ping(_Message):
    """Keepalive; the peer answers Pong with the same seq."""

    FIELDS = ("seq",)

    def __init__(self, seq):
        self.seq = seq


class Pong(Ping):
    """The answer to a Ping."""


class Error(_Message):
    """A reason to close, for the peer to show (code: the E_* constants)."""

    FIELDS = ("code", "reason")

    def __init__(self, code, reason):
        self.code = code
        self.reason = reason


class Record(_Message):
    """One advertisement or scan response as the proxy's radio heard it."""

    FIELDS = ("address", "address_type", "adv_type", "rssi", "time_ms", "data")

    def __init__(self, address, address_type, adv_type, rssi, time_ms, data):
        self.address = address
        self.address_type = address_type
        self.adv_type = adv_type
        self.rssi = rssi
        self.time_ms = time_ms
        self.data = data


class Batch(_Message):
    """Records sent together; sent_ms dates them, dropped counts overflow losses since boot."""

    FIELDS = ("records", "sent_ms", "dropped")

    def __init__(self, records, sent_ms, dropped=0):
        self.records = records
        self.sent_ms = sent_ms
        self.dropped = dropped


# ---- encoders


def frame(ftype, body=b""):
    """Header + type + body; FrameTooLarge past MAX_FRAME."""
    length = 1 + len(body)
    if length > MAX_FRAME:
        raise FrameTooLarge(f"frame of {length} bytes, the limit is {MAX_FRAME}")
    return length.to_bytes(2, "big") + bytes([ftype]) + bytes(body)


def encode_challenge(nonce, version=VERSION):
    """CHALLENGE with a NONCE_LEN-byte nonce."""
    if len(nonce) != NONCE_LEN:
        raise MalformedFrame(f"nonce has {NONCE_LEN} bytes, got {len(nonce)}")
    return frame(T_CHALLENGE, MAGIC + bytes([version]) + bytes(nonce))


def _check_id(proxy_id):
    raw = proxy_id.encode()
    if not 1 <= len(raw) <= MAX_ID or any(b not in _ID_CHARS for b in raw):
        raise MalformedFrame(f"proxy id must be 1..{MAX_ID} of A-Z a-z 0-9 _ . -, got {proxy_id!r}")
    return raw


def _check_firmware(firmware):
    raw = firmware.encode()
    if len(raw) > MAX_FIRMWARE or any(b < 0x20 or b > 0x7E for b in raw):
        raise MalformedFrame(f"firmware version must be 0..{MAX_FIRMWARE} printable ASCII, got {firmware!r}")
    return raw


def encode_hello(proxy_id, firmware, proof_bytes, version=VERSION):
    """HELLO; compute proof_bytes with proof(token, nonce, proxy_id)."""
    raw_id = _check_id(proxy_id)
    raw_fw = _check_firmware(firmware)
    if len(proof_bytes) != PROOF_LEN:
        raise MalformedFrame(f"proof has {PROOF_LEN} bytes, got {len(proof_bytes)}")
    body = MAGIC + bytes([version, len(raw_id)]) + raw_id + bytes([len(raw_fw)]) + raw_fw + bytes(proof_bytes)
    return frame(T_HELLO, body)


def encode_welcome():
    """WELCOME (no body)."""
    return frame(T_WELCOME)


def encode_ping(seq):
    """PING with a u32 sequence number."""
    return frame(T_PING, _put_u32(seq))


def encode_pong(seq):
    """PONG echoing a PING's seq."""
    return frame(T_PONG, _put_u32(seq))


def _cut_utf8(raw, limit):
    """At most `limit` bytes of UTF-8, never ending inside a character."""
    if len(raw) <= limit:
        return raw
    end = limit
    while end > 0 and raw[end] & 0xC0 == 0x80:
        end -= 1
    return raw[:end]


def encode_error(code, reason):
    """ERROR; a reason longer than MAX_REASON bytes is shortened rather than refused."""
    if not 0 <= code <= 255:
        raise MalformedFrame(f"error code must be 0..255, got {code}")
    return frame(T_ERROR, bytes([code]) + _cut_utf8(reason.encode(), MAX_REASON))


def encode_record(record):
    """One record's bytes (inside a BATCH)."""
    address = bytes(record.address)
    data = bytes(record.data)
    if len(address) != 6:
        raise MalformedFrame(f"an address has 6 bytes, got {len(address)}")
    if not 0 <= record.address_type < ADDRESS_TYPES:
        raise MalformedFrame(f"address type must be 0..{ADDRESS_TYPES - 1}, got {record.address_type}")
    if not 0 <= record.adv_type < ADV_TYPES:
        raise MalformedFrame(f"advertising type must be 0..{ADV_TYPES - 1}, got {record.adv_type}")
    if not -128 <= record.rssi <= 127:
        raise MalformedFrame(f"RSSI must be -128..127, got {record.rssi}")
    if len(data) > MAX_AD_DATA:
        raise MalformedFrame(f"AD data has at most {MAX_AD_DATA} bytes, got {len(data)}")
    head = bytes([record.address_type, record.adv_type, record.rssi & 0xFF])
    return address + head + _put_u32(record.time_ms) + bytes([len(data)]) + data


def encode_batch(records, sent_ms, dropped=0):
    """BATCH of 1..MAX_BATCH records; BatchTooLarge beyond, MalformedFrame when empty."""
    if not records:
        raise MalformedFrame("a batch has at least one record")
    if len(records) > MAX_BATCH:
        raise BatchTooLarge(f"batch of {len(records)} records, the limit is {MAX_BATCH}")
    parts = [_put_u32(sent_ms), _put_u32(dropped), bytes([len(records)])]
    for record in records:
        parts.append(encode_record(record))
    return frame(T_BATCH, b"".join(parts))


def encode(message):
    """Any message object -> its frame."""
    kind = type(message)
    if kind is Challenge:
        return encode_challenge(message.nonce, message.version)
    if kind is Hello:
        return encode_hello(message.proxy_id, message.firmware, message.proof, message.version)
    if kind is Welcome:
        return encode_welcome()
    if kind is Batch:
        return encode_batch(message.records, message.sent_ms, message.dropped)
    if kind is Ping:
        return encode_ping(message.seq)
    if kind is Pong:
        return encode_pong(message.seq)
    if kind is Error:
        return encode_error(message.code, message.reason)
    raise TypeError(f"not a protocol message: {message!r}")


# ---- decoders (bodies)


def _expect_len(name, body, size):
    if len(body) != size:
        raise MalformedFrame(f"{name} body has {size} bytes, got {len(body)}")


def _check_magic(name, body):
    if len(body) < 5 or body[:4] != MAGIC:
        raise MalformedFrame(f"{name} without the MDRP magic: not a Maderas proxy peer")
    if body[4] != VERSION:
        raise UnsupportedVersion(f"protocol version {body[4]}, this side speaks {VERSION}")


def decode_challenge(body):
    """CHALLENGE body -> Challenge."""
    _check_magic("challenge", body)
    _expect_len("challenge", body, 5 + NONCE_LEN)
    return Challenge(bytes(body[5:]), body[4])


def _text(name, raw):
    try:
        return bytes(raw).decode()
    except UnicodeError:
        raise MalformedFrame(f"{name} is not UTF-8")


def decode_hello(body):
    """HELLO body -> Hello (the proof is checked by the hub with verify_proof)."""
    _check_magic("hello", body)
    if len(body) < 6:
        raise MalformedFrame("hello body ends before the proxy id")
    id_len = body[5]
    fw_at = 6 + id_len
    if fw_at >= len(body):
        raise MalformedFrame("hello body ends inside the proxy id")
    fw_len = body[fw_at]
    _expect_len("hello", body, fw_at + 1 + fw_len + PROOF_LEN)
    proxy_id = _text("proxy id", body[6:fw_at])
    firmware = _text("firmware version", body[fw_at + 1 : fw_at + 1 + fw_len])
    _check_id(proxy_id)
    _check_firmware(firmware)
    return Hello(proxy_id, firmware, bytes(body[fw_at + 1 + fw_len :]), body[4])


def decode_batch(body):
    """BATCH body -> Batch; every record is checked against the limits."""
    if len(body) < _BATCH_FIXED:
        raise MalformedFrame(f"batch body has at least {_BATCH_FIXED} bytes, got {len(body)}")
    count = body[8]
    if count == 0:
        raise MalformedFrame("a batch has at least one record")
    if count > MAX_BATCH:
        raise BatchTooLarge(f"batch of {count} records, the limit is {MAX_BATCH}")
    records = []
    i = _BATCH_FIXED
    for n in range(count):
        if i + _RECORD_FIXED > len(body):
            raise MalformedFrame(f"batch ends inside record {n}")
        address_type = body[i + 6]
        adv_type = body[i + 7]
        if address_type >= ADDRESS_TYPES:
            raise MalformedFrame(f"record {n}: address type {address_type}")
        if adv_type >= ADV_TYPES:
            raise MalformedFrame(f"record {n}: advertising type {adv_type}")
        rssi = body[i + 8]
        if rssi > 127:
            rssi -= 256
        data_len = body[i + 13]
        if data_len > MAX_AD_DATA:
            raise MalformedFrame(f"record {n}: AD data of {data_len} bytes, the limit is {MAX_AD_DATA}")
        end = i + _RECORD_FIXED + data_len
        if end > len(body):
            raise MalformedFrame(f"batch ends inside record {n}")
        records.append(
            Record(bytes(body[i : i + 6]), address_type, adv_type, rssi, _u32(body, i + 9), bytes(body[i + 14 : end]))
        )
        i = end
    if i != len(body):
        raise MalformedFrame(f"{len(body) - i} bytes after the last record")
    return Batch(records, _u32(body, 0), _u32(body, 4))


def decode_error(body):
    """ERROR body -> Error (undecodable reason bytes become U+FFFD, a reason is only shown)."""
    if len(body) < 1:
        raise MalformedFrame("error body has no code")
    if len(body) > 1 + MAX_REASON:
        raise MalformedFrame(f"error reason over {MAX_REASON} bytes")
    try:
        reason = bytes(body[1:]).decode()
    except UnicodeError:
        reason = "".join(chr(b) if b < 0x80 else "\ufffd" for b in body[1:])
    return Error(body[0], reason)


def decode_body(ftype, body):
    """(type, body) from a FrameDecoder -> the message object."""
    if ftype == T_CHALLENGE:
        return decode_challenge(body)
    if ftype == T_HELLO:
        return decode_hello(body)
    if ftype == T_WELCOME:
        _expect_len("welcome", body, 0)
        return Welcome()
    if ftype == T_BATCH:
        return decode_batch(body)
    if ftype == T_PING or ftype == T_PONG:
        _expect_len("ping" if ftype == T_PING else "pong", body, 4)
        return (Ping if ftype == T_PING else Pong)(_u32(body, 0))
    if ftype == T_ERROR:
        return decode_error(body)
    raise UnknownFrameType(f"frame type 0x{ftype:02x}")


def decode(data):
    """Exactly one whole frame (bytes) -> its message; MalformedFrame on missing or extra bytes."""
    decoder = FrameDecoder()
    frames = decoder.feed(data)
    if len(frames) != 1 or decoder.pending():
        raise MalformedFrame(f"expected one whole frame, got {len(frames)} and {decoder.pending()} bytes more")
    return decode_body(frames[0][0], frames[0][1])


# ---- stream decoder


class FrameDecoder:
    """Bytes from a stream in any chunking -> whole (type, body) frames.

    The length and the type are checked as soon as the header arrives, so a garbage stream fails
    at its header instead of being buffered up to the limit.
    """

    def __init__(self, max_frame=MAX_FRAME):
        self.max_frame = max_frame
        self.buf = b""
        self.error = None

    def pending(self):
        """Bytes held that do not make a whole frame yet."""
        return len(self.buf)

    def feed(self, data):
        """Add bytes; return the frames they complete, in order (possibly none)."""
        if self.error is not None:
            raise self.error
        buf = self.buf + bytes(data)
        frames = []
        i = 0
        try:
            while len(buf) - i >= _HEADER:
                length = (buf[i] << 8) | buf[i + 1]
                if length == 0:
                    raise MalformedFrame("frame of length 0 (no type byte)")
                if length > self.max_frame:
                    raise FrameTooLarge(f"frame of {length} bytes, the limit is {self.max_frame}")
                if len(buf) - i < _HEADER + 1:
                    break
                ftype = buf[i + 2]
                if ftype not in FRAME_TYPES:
                    raise UnknownFrameType(f"frame type 0x{ftype:02x}")
                end = i + _HEADER + length
                if end > len(buf):
                    break
                frames.append((ftype, buf[i + 3 : end]))
                i = end
        except ProtocolError as exc:
            self.error = exc
            self.buf = b""
            raise
        self.buf = buf[i:]
        return frames
