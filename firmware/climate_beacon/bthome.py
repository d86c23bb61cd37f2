"""BTHome v2 encoder for the climate beacon: objects, device-info byte, AES-CCM, AD payload.

Runs unchanged under MicroPython and CPython: no typing, no dataclasses, ints and bytes only
(the ESP32 port has single-precision floats, so quantities arrive as scaled integers).
Layout and vectors: PROTOCOLS.md section 4.

Service data (the bytes after the UUID D2 FC):

    plain        [device-info 0x40][objects...]
    encrypted    [device-info 0x41][ciphertext of objects][counter 4, LE][MIC 4]

Objects, ascending id, values little-endian:

    id    quantity      type     unit
    0x00  packet id     uint8
    0x01  battery       uint8    1 %
    0x02  temperature   sint16   0.01 degC
    0x03  humidity      uint16   0.01 %

AES-CCM is built on an injected AES-ECB block function `aes_ecb_encrypt(key, block) -> bytes`
(on the board `cryptolib.aes(key, 1).encrypt`): MicroPython's cryptolib has no CCM.
"""

UUID16 = 0xFCD2
UUID16_LE = b"\xd2\xfc"
SERVICE_DATA_UUID = "0000fcd2-0000-1000-8000-00805f9b34fb"

INFO_ENCRYPTED = 0x01
INFO_TRIGGER = 0x04
INFO_VERSION_2 = 0x40

OBJ_PACKET_ID = 0x00
OBJ_BATTERY = 0x01
OBJ_TEMPERATURE = 0x02
OBJ_HUMIDITY = 0x03

AD_FLAGS = 0x01
AD_SHORT_NAME = 0x08
AD_COMPLETE_NAME = 0x09
AD_SERVICE_DATA_16 = 0x16
# LE General Discoverable, BR/EDR not supported: BlueZ passive scanning needs the Flags AD.
FLAGS_AD = b"\x02\x01\x06"
LEGACY_ADV_MAX = 31

MIC_LEN = 4
COUNTER_MAX = 0xFFFFFFFF
BLOCK = 16


class EncodeError(ValueError):
    """A value that the BTHome object table cannot carry, or an advertisement too long."""


def _check(name, value, low, high):
    if not isinstance(value, int) or value < low or value > high:
        raise EncodeError(f"{name} must be an integer in {low}..{high}, got {value!r}")


def device_info(encrypted=False, trigger=False):
    """The device-info byte: version 2, plus the encryption and trigger-based bits."""
    info = INFO_VERSION_2
    if encrypted:
        info |= INFO_ENCRYPTED
    if trigger:
        info |= INFO_TRIGGER
    return info


def encode_objects(packet_id=None, battery=None, temperature_cc=None, humidity_ch=None):
    """Objects in ascending id order; a None quantity is left out.

    temperature_cc is in 0.01 degC and humidity_ch in 0.01 % (integers, as on the wire).
    """
    out = bytearray()
    if packet_id is not None:
        _check("packet_id", packet_id, 0, 255)
        out.append(OBJ_PACKET_ID)
        out.append(packet_id)
    if battery is not None:
        _check("battery", battery, 0, 100)
        out.append(OBJ_BATTERY)
        out.append(battery)
    if temperature_cc is not None:
        _check("temperature_cc", temperature_cc, -32768, 32767)
        out.append(OBJ_TEMPERATURE)
        out.extend((temperature_cc & 0xFFFF).to_bytes(2, "little"))
    if humidity_ch is not None:
        _check("humidity_ch", humidity_ch, 0, 10000)
        out.append(OBJ_HUMIDITY)
        out.extend(humidity_ch.to_bytes(2, "little"))
    return bytes(out)


def mac_bytes(mac):
    """'54:48:E6:8F:80:A5' (or its 6 bytes, most significant first) -> 6 bytes as printed."""
    if isinstance(mac, (bytes, bytearray)):
        if len(mac) != 6:
            raise EncodeError(f"a MAC has 6 bytes, got {len(mac)}")
        return bytes(mac)
    parts = mac.replace("-", ":").split(":")
    if len(parts) != 6:
        raise EncodeError(f"MAC must look like 54:48:E6:8F:80:A5, got {mac!r}")
    return bytes(int(p, 16) for p in parts)


def nonce(mac, info, counter):
    """The 13-byte CCM nonce: MAC (as printed) + D2 FC + device-info + counter (LE, as sent)."""
    _check("counter", counter, 0, COUNTER_MAX)
    return mac_bytes(mac) + UUID16_LE + bytes((info,)) + counter.to_bytes(4, "little")


def plain_service_data(objects, trigger=False):
    """Service data of an unencrypted advertisement: device-info byte + objects."""
    return bytes((device_info(False, trigger),)) + bytes(objects)


def encrypted_service_data(objects, bindkey, mac, counter, aes_ecb_encrypt, trigger=False):
    """Service data of an encrypted advertisement: info + ciphertext + counter + MIC."""
    if len(bindkey) != 16:
        raise EncodeError(f"the bindkey has 16 bytes, got {len(bindkey)}")
    info = device_info(True, trigger)
    sealed = ccm_encrypt(aes_ecb_encrypt, bindkey, nonce(mac, info, counter), objects, MIC_LEN)
    body = sealed[:-MIC_LEN]
    mic = sealed[-MIC_LEN:]
    return bytes((info,)) + body + counter.to_bytes(4, "little") + mic


def advertisement(service_data, name=None):
    """The whole legacy AD payload: Flags, optional local name, Service Data (UUID D2 FC).

    The name goes out complete (0x09) when it fits in 31 bytes, else cut as a shortened name
    (0x08); service data that does not fit even without a name is an EncodeError.
    """
    data_ad = bytes((len(service_data) + 3, AD_SERVICE_DATA_16)) + UUID16_LE + bytes(service_data)
    fixed = len(FLAGS_AD) + len(data_ad)
    if fixed > LEGACY_ADV_MAX:
        raise EncodeError(f"advertisement is {fixed} bytes, legacy advertising allows 31")
    name_ad = b""
    if name:
        raw = name.encode() if isinstance(name, str) else bytes(name)
        room = LEGACY_ADV_MAX - fixed - 2
        if room > 0:
            kind = AD_COMPLETE_NAME if len(raw) <= room else AD_SHORT_NAME
            raw = raw[:room]
            name_ad = bytes((len(raw) + 1, kind)) + raw
    return FLAGS_AD + name_ad + data_ad


def ad_structures(payload):
    """Split an AD payload into [(ad_type, data), ...]; a truncated element is an EncodeError."""
    out = []
    i = 0
    while i < len(payload):
        length = payload[i]
        if length == 0:
            break  # the rest is padding
        if i + 1 + length > len(payload):
            raise EncodeError(f"AD element at offset {i} runs past the end")
        out.append((payload[i + 1], bytes(payload[i + 2 : i + 1 + length])))
        i += 1 + length
    return out


# AES-CCM (RFC 3610) with a 13-byte nonce, so the length field L is 2 bytes.
#
#   block    byte 0                          bytes 1..13   bytes 14..15
#   B0       flags = 0x40*Adata | ((M-2)/2)<<3 | (L-1)     nonce   len(message), big-endian
#   A_i      flags = L-1 = 0x01                            nonce   i, big-endian (A_0 masks the MIC)
#
#   B1..     if AAD: len(AAD) (2 bytes BE) + AAD, zero-padded to 16; then the message, zero-padded
#   MAC      X_1 = E(B0); X_(i+1) = E(X_i xor B_i); T = first M bytes of the last X
#   output   ciphertext = message xor E(A_1) E(A_2) ...;   MIC = T xor first M bytes of E(A_0)
#
# BTHome v2 uses M = 4 and no AAD (v1 used AAD 0x11; kept here for the tests' sake only).

_L = 2


def _xor_into(acc, data, offset):
    for k in range(len(data)):
        acc[offset + k] ^= data[k]


def _cbc_mac(aes, key, nonce13, aad, message, mic_len):
    b0 = bytearray(BLOCK)
    b0[0] = (0x40 if aad else 0) | (((mic_len - 2) // 2) << 3) | (_L - 1)
    b0[1:14] = nonce13
    b0[14:16] = len(message).to_bytes(2, "big")
    x = bytearray(aes(key, bytes(b0)))
    stream = bytearray()
    if aad:
        stream.extend(len(aad).to_bytes(2, "big"))
        stream.extend(aad)
        stream.extend(bytes(-len(stream) % BLOCK))
    stream.extend(message)
    stream.extend(bytes(-len(stream) % BLOCK))
    for start in range(0, len(stream), BLOCK):
        _xor_into(x, stream[start : start + BLOCK], 0)
        x = bytearray(aes(key, bytes(x)))
    return bytes(x[:mic_len])


def _ctr_block(aes, key, nonce13, i):
    a = bytearray(BLOCK)
    a[0] = _L - 1
    a[1:14] = nonce13
    a[14:16] = i.to_bytes(2, "big")
    return aes(key, bytes(a))


def _ctr(aes, key, nonce13, data):
    out = bytearray(data)
    for start in range(0, len(out), BLOCK):
        keystream = _ctr_block(aes, key, nonce13, start // BLOCK + 1)
        _xor_into(out, keystream[: min(BLOCK, len(out) - start)], start)
    return bytes(out)


def _check_ccm(key, nonce13, data, mic_len):
    if len(key) != 16:
        raise EncodeError(f"AES-128 key has 16 bytes, got {len(key)}")
    if len(nonce13) != 13:
        raise EncodeError(f"CCM nonce has 13 bytes here, got {len(nonce13)}")
    if mic_len not in (4, 6, 8, 10, 12, 14, 16):
        raise EncodeError(f"CCM MIC length must be even in 4..16, got {mic_len}")
    if len(data) >= 1 << (8 * _L):
        raise EncodeError("CCM with a 13-byte nonce carries at most 65535 bytes")


def ccm_encrypt(aes_ecb_encrypt, key, nonce13, plaintext, mic_len=MIC_LEN, aad=b""):
    """AES-CCM seal: ciphertext followed by the MIC."""
    _check_ccm(key, nonce13, plaintext, mic_len)
    tag = _cbc_mac(aes_ecb_encrypt, key, nonce13, aad, bytes(plaintext), mic_len)
    s0 = _ctr_block(aes_ecb_encrypt, key, nonce13, 0)
    mic = bytes(tag[k] ^ s0[k] for k in range(mic_len))
    return _ctr(aes_ecb_encrypt, key, nonce13, plaintext) + mic


def ccm_decrypt(aes_ecb_encrypt, key, nonce13, sealed, mic_len=MIC_LEN, aad=b""):
    """AES-CCM open: the plaintext, or EncodeError when the MIC does not match."""
    if len(sealed) < mic_len:
        raise EncodeError("sealed data shorter than its MIC")
    body = sealed[: len(sealed) - mic_len]
    _check_ccm(key, nonce13, body, mic_len)
    plaintext = _ctr(aes_ecb_encrypt, key, nonce13, body)
    expected = ccm_encrypt(aes_ecb_encrypt, key, nonce13, plaintext, mic_len, aad)[-mic_len:]
    diff = 0
    for k in range(mic_len):
        diff |= expected[k] ^ sealed[len(body) + k]  # constant time over the MIC
    if diff:
        raise EncodeError("CCM MIC mismatch: wrong key, nonce or corrupted data")
    return plaintext
