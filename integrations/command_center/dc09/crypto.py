"""DC-09 encryption: AES-128/192/256-CBC with a zero IV over `pad|plaintext`, sent as uppercase hex.

The pad goes in front so the block is a whole number of AES blocks; it never contains `|`, `[` or
`]`, so a receiver finds the end of it at the first `|`. Some senders (pysiaalarm, fioletoven) put
no `|` after the pad when the data is empty (`pad]_timestamp`); `decrypt_block` accepts both.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Callable

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from integrations.command_center.dc09.errors import DecryptError

BLOCK = 16
KEY_LENGTHS = (16, 24, 32)
KEY_FORMATS = ("ascii", "hex")
# The standard fixes the IV at zero; the pad and the timestamp make each first block differ.
_IV = bytes(BLOCK)
_FORBIDDEN = frozenset("|[]")
PAD_ALPHABET = "".join(c for c in string.ascii_letters + string.digits + string.punctuation if c not in _FORBIDDEN)


def make_key(text: str, key_format: str = "ascii") -> bytes:
    """The AES key from its configured text: ASCII characters used as bytes, or hex digits decoded."""
    if key_format == "ascii":
        if not text.isascii():
            raise ValueError("the DC-09 key must be ASCII characters when key_format is ascii")
        if len(text) not in KEY_LENGTHS:
            raise ValueError(
                f"the DC-09 key must be 16, 24 or 32 characters for AES-128/192/256 (key_format ascii), got {len(text)}"
            )
        return text.encode("ascii")
    if key_format == "hex":
        if len(text) not in tuple(2 * n for n in KEY_LENGTHS):
            raise ValueError(
                f"the DC-09 key must be 32, 48 or 64 hex digits for AES-128/192/256 (key_format hex), got {len(text)}"
            )
        try:
            return bytes.fromhex(text)
        except ValueError:
            raise ValueError("the DC-09 key has a character that is not a hex digit (key_format hex)") from None
    raise ValueError(f"key_format must be one of {', '.join(KEY_FORMATS)}, got {key_format!r}")


def random_pad(count: int) -> str:
    """`count` unpredictable printable characters, none of them `|`, `[` or `]`."""
    return "".join(secrets.choice(PAD_ALPHABET) for _ in range(count))


def _cipher(key: bytes) -> Cipher[modes.CBC]:
    if len(key) not in KEY_LENGTHS:
        raise ValueError(f"an AES key has 16, 24 or 32 bytes, got {len(key)}")
    return Cipher(algorithms.AES(key), modes.CBC(_IV))


def encrypt_block(plaintext: str, key: bytes, pad: Callable[[int], str] | None = None) -> str:
    """Uppercase hex of AES-CBC(`pad|plaintext`); `plaintext` is `data]xdata..._timestamp`."""
    if not plaintext.isascii():
        raise ValueError("DC-09 plaintext must be ASCII")
    # At least one pad character, so the first block never starts with the bare separator.
    count = BLOCK - (len(plaintext) + 1) % BLOCK
    padding = (pad or random_pad)(count)
    if len(padding) != count:
        raise ValueError(f"the pad function returned {len(padding)} characters, {count} were asked for")
    if not padding.isascii() or not padding.isprintable() or _FORBIDDEN.intersection(padding):
        raise ValueError("pad characters must be printable ASCII without '|', '[' or ']'")
    block = f"{padding}|{plaintext}".encode("ascii")
    encryptor = _cipher(key).encryptor()
    return (encryptor.update(block) + encryptor.finalize()).hex().upper()


def decrypt_block(hex_text: str, key: bytes) -> str:
    """The plaintext of an encrypted block, pad removed: `data]xdata..._timestamp`."""
    try:
        raw = bytes.fromhex(hex_text)
    except ValueError:
        raise DecryptError("the encrypted block is not hex") from None
    if not raw or len(raw) % BLOCK:
        raise DecryptError(f"the encrypted block is {len(raw)} bytes, not a whole number of 16-byte AES blocks")
    decryptor = _cipher(key).decryptor()
    block = decryptor.update(raw) + decryptor.finalize()
    try:
        text = block.decode("ascii")
    except UnicodeDecodeError:
        raise DecryptError("the decrypted block is not ASCII text: wrong key?") from None
    bar, bracket = text.find("|"), text.find("]")
    if bracket < 0:
        raise DecryptError("the decrypted block has no ']' after the data: wrong key?")
    # The pad ends at the first '|'; when the data is empty some senders write `pad]` without one.
    plain = text[bar + 1 :] if 0 <= bar < bracket else text[bracket:]
    if not plain.isprintable():
        raise DecryptError("the decrypted block has control characters: wrong key?")
    return plain


__all__ = ["KEY_FORMATS", "KEY_LENGTHS", "PAD_ALPHABET", "decrypt_block", "encrypt_block", "make_key", "random_pad"]
