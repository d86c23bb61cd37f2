"""Raw BLE advertising data (AD structures) -> the fields a scanner such as bleak reports.

Pure and MicroPython-compatible. The hub runs it on the AD data a proxy forwards, to build the
same `Advertisement` the local adapter gives: service data keyed by the full 128-bit UUID string
in lower case as bleak prints it, manufacturer data keyed by the company id, the advertised
service UUID lists, the local name. Malformed data (an element running past the end, a field
shorter than its type needs) raises AdError; unknown AD types are skipped.

    AD structure: length L (1) | type (1) | data (L - 1); L = 0 ends the significant part
    type  meaning                          data
    0x01  flags                            1 byte
    0x02  16-bit UUIDs, incomplete list    2n, each little-endian
    0x03  16-bit UUIDs, complete list      2n
    0x04  32-bit UUIDs, incomplete / 0x05 complete      4n, little-endian
    0x06  128-bit UUIDs, incomplete / 0x07 complete     16n, little-endian (whole UUID reversed)
    0x08  shortened local name             UTF-8
    0x09  complete local name              UTF-8
    0x0A  TX power level                   1 byte, signed dBm
    0x16  service data, 16-bit UUID        UUID (2, LE) | data
    0x20  service data, 32-bit UUID        UUID (4, LE) | data
    0x21  service data, 128-bit UUID       UUID (16, LE) | data
    0xFF  manufacturer specific data       company id (2, LE) | data

A 16- or 32-bit UUID is placed in the Bluetooth base UUID 0000xxxx-0000-1000-8000-00805f9b34fb.
Several elements of one kind add up (UUID lists) or the later wins (same service UUID or company
id), as BlueZ does; a complete name wins over a shortened one.
"""

AD_FLAGS = 0x01
AD_UUID16_SOME = 0x02
AD_UUID16_ALL = 0x03
AD_UUID32_SOME = 0x04
AD_UUID32_ALL = 0x05
AD_UUID128_SOME = 0x06
AD_UUID128_ALL = 0x07
AD_SHORT_NAME = 0x08
AD_COMPLETE_NAME = 0x09
AD_TX_POWER = 0x0A
AD_SERVICE_DATA_16 = 0x16
AD_SERVICE_DATA_32 = 0x20
AD_SERVICE_DATA_128 = 0x21
AD_MANUFACTURER = 0xFF

BASE_UUID_TAIL = "-0000-1000-8000-00805f9b34fb"

_UUID_SIZES = {
    AD_UUID16_SOME: 2,
    AD_UUID16_ALL: 2,
    AD_UUID32_SOME: 4,
    AD_UUID32_ALL: 4,
    AD_UUID128_SOME: 16,
    AD_UUID128_ALL: 16,
}
_SERVICE_DATA_SIZES = {AD_SERVICE_DATA_16: 2, AD_SERVICE_DATA_32: 4, AD_SERVICE_DATA_128: 16}


class AdError(ValueError):
    """AD data that does not parse: a truncated element or a field too short for its type."""


def uuid_string(raw_le):
    """A UUID as sent on air (2, 4 or 16 bytes, little-endian) -> bleak's lower-case 128-bit string."""
    size = len(raw_le)
    if size == 2 or size == 4:
        value = int.from_bytes(bytes(raw_le), "little")
        return f"{value:08x}" + BASE_UUID_TAIL
    if size == 16:
        h = "".join(f"{raw_le[i]:02x}" for i in range(15, -1, -1))
        return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
    raise AdError(f"a UUID has 2, 4 or 16 bytes, got {size}")


def structures(payload):
    """Split AD data into [(type, data bytes), ...]; AdError for an element past the end."""
    out = []
    i = 0
    n = len(payload)
    while i < n:
        length = payload[i]
        if length == 0:
            break  # the rest is non-significant padding
        if i + 1 + length > n:
            raise AdError(f"AD element at offset {i} claims {length} bytes, {n - i - 1} remain")
        out.append((payload[i + 1], bytes(payload[i + 2 : i + 1 + length])))
        i += 1 + length
    return out


def _name(data):
    try:
        return data.decode()
    except UnicodeError:
        # A name is only shown: keep what is readable instead of dropping the advertisement.
        return "".join(chr(b) if b < 0x80 else "\ufffd" for b in data)


class AdFields:
    """What one advertisement (and its scan response, merged) says, in bleak's terms."""

    def __init__(self):
        self.flags = None
        self.name = None
        self.name_complete = False
        self.tx_power = None
        self.service_uuids = []
        self.service_data = {}
        self.manufacturer_data = {}

    def __repr__(self):
        return (
            f"AdFields(name={self.name!r}, flags={self.flags!r}, tx_power={self.tx_power!r}, "
            f"service_uuids={self.service_uuids!r}, service_data={self.service_data!r}, "
            f"manufacturer_data={self.manufacturer_data!r})"
        )

    def add(self, ad_type, data):
        """Take one AD element in; AdError when its data is too short or misaligned."""
        if ad_type == AD_FLAGS:
            if len(data) < 1:
                raise AdError("flags element without a flags byte")
            self.flags = data[0]
        elif ad_type in _UUID_SIZES:
            size = _UUID_SIZES[ad_type]
            if len(data) % size:
                raise AdError(f"{size * 8}-bit UUID list of {len(data)} bytes")
            for i in range(0, len(data), size):
                uuid = uuid_string(data[i : i + size])
                if uuid not in self.service_uuids:
                    self.service_uuids.append(uuid)
        elif ad_type == AD_COMPLETE_NAME or ad_type == AD_SHORT_NAME:
            complete = ad_type == AD_COMPLETE_NAME
            if complete or not self.name_complete:
                self.name = _name(data)
                self.name_complete = complete
        elif ad_type == AD_TX_POWER:
            if len(data) != 1:
                raise AdError(f"TX power element of {len(data)} bytes")
            self.tx_power = data[0] - 256 if data[0] > 127 else data[0]
        elif ad_type in _SERVICE_DATA_SIZES:
            size = _SERVICE_DATA_SIZES[ad_type]
            if len(data) < size:
                raise AdError(f"service data ({size * 8}-bit UUID) of {len(data)} bytes")
            self.service_data[uuid_string(data[:size])] = bytes(data[size:])
        elif ad_type == AD_MANUFACTURER:
            if len(data) < 2:
                raise AdError(f"manufacturer data of {len(data)} bytes, no company id")
            self.manufacturer_data[data[0] | (data[1] << 8)] = bytes(data[2:])
        return self


def parse(payload, fields=None):
    """AD data -> AdFields; pass the advertisement's fields to merge its scan response in.

    On AdError nothing from this payload has been merged (elements are split and checked first).
    """
    elements = structures(payload)
    staged = AdFields()
    for ad_type, data in elements:
        staged.add(ad_type, data)
    if fields is None:
        return staged
    for ad_type, data in elements:
        fields.add(ad_type, data)
    return fields
