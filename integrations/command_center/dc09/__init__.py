"""SIA DC-09 codec (sans-IO): frames, CRC, AES, Contact ID and SIA DCS data, receiver answers."""

from __future__ import annotations

from integrations.command_center.dc09.contact_id import ContactId, cid_data, dtmf_checksum, parse_cid_data
from integrations.command_center.dc09.crc import crc16_arc
from integrations.command_center.dc09.crypto import decrypt_block, encrypt_block, make_key
from integrations.command_center.dc09.errors import (
    CrcError,
    DataError,
    Dc09Error,
    DecryptError,
    FramingError,
    LengthError,
)
from integrations.command_center.dc09.frame import (
    MAX_SEQUENCE,
    Dc09Message,
    FrameSplitter,
    decode,
    encode,
    format_timestamp,
    parse_timestamp,
)
from integrations.command_center.dc09.responses import (
    Response,
    build_ack,
    build_duh,
    build_nak,
    nak_clock_offset,
    parse_response,
)
from integrations.command_center.dc09.sia_dcs import SiaEvent, parse_sia_data, sia_data

__all__ = [
    "MAX_SEQUENCE",
    "ContactId",
    "CrcError",
    "DataError",
    "Dc09Error",
    "Dc09Message",
    "DecryptError",
    "FrameSplitter",
    "FramingError",
    "LengthError",
    "Response",
    "SiaEvent",
    "build_ack",
    "build_duh",
    "build_nak",
    "cid_data",
    "crc16_arc",
    "decode",
    "decrypt_block",
    "dtmf_checksum",
    "encode",
    "encrypt_block",
    "format_timestamp",
    "make_key",
    "nak_clock_offset",
    "parse_cid_data",
    "parse_response",
    "parse_sia_data",
    "parse_timestamp",
    "sia_data",
]
