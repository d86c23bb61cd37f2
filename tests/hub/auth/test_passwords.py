"""Password hashing: the stored format, verification, tampering, rehash and the password policy."""

from __future__ import annotations

import base64
import hashlib
import time

import pytest

from hub.auth import passwords
from hub.auth.passwords import hash_password, needs_rehash, password_problem, verify_password, verify_or_dummy

# RFC 7914 section 12, third test vector: scrypt(P="pleaseletmein", S="SodiumChloride",
# N=16384, r=8, p=1, dkLen=64). Written in our stored format, it must verify.
RFC7914_DIGEST = bytes.fromhex(
    "7023bdcb3afd7348461c06cd81fd38ebfda8fbba904f8e3ea9b543f6545da1f2"
    "d5432955613f0fcf62d49705242a9af9e61e85dc0d651e40dfcf017b45575887"
)
RFC7914_HASH = "$".join(
    ["scrypt", "16384", "8", "1", base64.b64encode(b"SodiumChloride").decode(),
     base64.b64encode(RFC7914_DIGEST).decode()]
)


def _b64decode(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def test_hash_format() -> None:
    encoded = hash_password("correct horse battery")
    scheme, n, r, p, salt, digest = encoded.split("$")
    assert (scheme, n, r, p) == ("scrypt", "16384", "8", "1")
    assert len(_b64decode(salt)) == 16 and len(_b64decode(digest)) == 32
    # A new salt every time: equal passwords never give equal hashes.
    assert hash_password("correct horse battery") != encoded
    assert not needs_rehash(encoded)


def test_rfc7914_vector_in_our_format_verifies() -> None:
    assert verify_password("pleaseletmein", RFC7914_HASH)
    assert not verify_password("pleaseletmeout", RFC7914_HASH)
    assert needs_rehash(RFC7914_HASH)  # 64-byte digest and 14-byte salt are not today's parameters


def test_verify_right_and_wrong_password() -> None:
    encoded = hash_password("correct horse battery")
    assert verify_password("correct horse battery", encoded)
    assert not verify_password("correct horse batterY", encoded)
    assert not verify_password("", encoded)


def test_unicode_forms_of_one_password_verify() -> None:
    composed, decomposed = "contraseña segura", "contrasen\u0303a segura"
    assert composed != decomposed
    assert verify_password(decomposed, hash_password(composed))


def _tampered(encoded: str, index: int, value: str) -> str:
    parts = encoded.split("$")
    parts[index] = value
    return "$".join(parts)


def test_tampered_or_malformed_hashes_never_verify_and_never_raise() -> None:
    password = "correct horse battery"
    encoded = hash_password(password)
    digest = _b64decode(encoded.split("$")[5])
    flipped = base64.b64encode(bytes([digest[0] ^ 1]) + digest[1:]).decode()
    wrong = [
        _tampered(encoded, 5, flipped),  # one bit of the digest
        _tampered(encoded, 4, base64.b64encode(b"another salt 16b").decode()),  # another salt
    ]
    for value in wrong:
        assert not verify_password(password, value), value
    assert not verify_password(password, _tampered(encoded, 1, "8192"))  # a lower cost than it was made with
    malformed = [
        _tampered(encoded, 0, "bcrypt"),
        _tampered(encoded, 1, "1000"),  # n not a power of two
        _tampered(encoded, 5, "not base64!"),
        _tampered(encoded, 5, ""),
        _tampered(encoded, 4, "c2FsdA=="),  # a 4-byte salt
        encoded + "$extra",
        encoded.rsplit("$", 1)[0],
        "",
        "plain text password",
    ]
    for value in malformed:
        assert not verify_password(password, value), value
        assert needs_rehash(value), value


def test_absurd_cost_in_a_stored_hash_is_refused_without_running_it() -> None:
    encoded = hash_password("correct horse battery")
    for n, r, p in [(2**30, 8, 1), (2**20, 32, 16), (2**14, 10_000, 1), (2**14, 8, 10_000)]:
        parts = encoded.split("$")
        parts[1:4] = [str(n), str(r), str(p)]
        start = time.perf_counter()
        assert not verify_password("correct horse battery", "$".join(parts))
        assert time.perf_counter() - start < 0.05


def test_weaker_parameters_verify_and_ask_for_a_rehash() -> None:
    salt = b"0123456789abcdef"
    digest = hashlib.scrypt(b"correct horse battery", salt=salt, n=2**10, r=8, p=1, dklen=32)
    weak = f"scrypt$1024$8$1${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"
    assert verify_password("correct horse battery", weak)
    assert needs_rehash(weak)


def test_dummy_hash_is_a_current_hash_and_verify_or_dummy_never_admits_no_user() -> None:
    assert not needs_rehash(passwords.dummy_hash())
    assert passwords.dummy_hash() is passwords.dummy_hash()
    encoded = hash_password("correct horse battery")
    assert verify_or_dummy("correct horse battery", encoded)
    assert not verify_or_dummy("correct horse battery", None)


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("short", "password must be at least 10 characters"),
        ("123456789", "password must be at least 10 characters"),
        ("AnaGarcia1", "password must not be the username"),
        ("x" * 1025, "password must be at most 1024 characters"),
        (None, "password must be text"),
        ("correct horse battery", None),
        ("0123456789", None),
    ],
)
def test_password_policy(password: object, problem: str | None) -> None:
    assert password_problem(password, "anagarcia1") == problem
