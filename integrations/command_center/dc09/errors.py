"""Errors of the DC-09 codec: every one is a ValueError about bytes or fields that do not fit.

Error tree::

    ValueError
      Dc09Error          anything the codec refuses
        FramingError     not LF ... CR, a field missing or out of order, an unknown token
        CrcError         the CRC field does not match the body (a flipped byte on the wire)
        LengthError      the 0LLL field does not match the body (only with strict_length)
        DecryptError     encrypted and no key, a wrong key, or ciphertext that is not whole AES blocks
        DataError        a field value the codec cannot carry or read (timestamp, account, data block)
"""

from __future__ import annotations


class Dc09Error(ValueError):
    """A DC-09 frame or field the codec refuses."""


class FramingError(Dc09Error):
    """The bytes are not a DC-09 frame: delimiters, field order or token are wrong."""


class CrcError(Dc09Error):
    """The frame's CRC does not match its body."""


class LengthError(Dc09Error):
    """The frame's length field does not match its body."""


class DecryptError(Dc09Error):
    """An encrypted frame that cannot be decrypted: no key, the wrong key or broken ciphertext."""


class DataError(Dc09Error):
    """A field value that cannot be encoded or parsed (timestamp, account, data block)."""


__all__ = ["CrcError", "DataError", "Dc09Error", "DecryptError", "FramingError", "LengthError"]
