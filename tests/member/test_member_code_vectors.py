"""Fixed test vectors for the dynamic member code: RFC 6238's own SHA-256 vectors, the 18-digit layout
(server/domain/member_codes.py: prefix, device index, one-time code) and the device secret a phone receives at login.

The phone computes the code in JavaScript (server/member/static/member-code.js) from that secret while
offline, so a change of any of these would invalidate every phone's codes: they are pinned as literals.
"""

from __future__ import annotations

import hashlib
import hmac

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import Flask

from server.domain.member_codes import match_step, member_code, otp, parse_member_code, time_step
from server.models import MemberDevice
from server.security.keys import KeyRing
from server.services.member_codes import device_secret

RFC6238_SHA256_SEED = b"12345678901234567890123456789012"
# RFC 6238 appendix B, SHA-256 column (8 digits); ours are 9 digits of the same truncated value
RFC6238_SHA256 = [
    (59, "46119246"),
    (1111111109, "68084774"),
    (1111111111, "67062674"),
    (1234567890, "91819424"),
    (2000000000, "90698825"),
    (20000000000, "77737706"),
]
OURS_9_DIGITS = ["746119246", "568084774", "167062674", "091819424", "790698825", "777737706"]


def hotp_sha256(secret: bytes, counter: int, digits: int) -> str:
    """RFC 4226 HOTP with HMAC-SHA256 and dynamic truncation, written out independently of the code under test."""
    digest = hmac.new(secret, counter.to_bytes(8, "big"), hashlib.sha256).digest()
    offset = digest[-1] & 0x0F
    binary = (
        ((digest[offset] & 0x7F) << 24) | (digest[offset + 1] << 16) | (digest[offset + 2] << 8) | digest[offset + 3]
    )
    return str(binary % 10**digits).zfill(digits)


@pytest.mark.parametrize(
    ("unix_time", "rfc", "ours"), [(*v, o) for v, o in zip(RFC6238_SHA256, OURS_9_DIGITS, strict=True)]
)
def test_the_one_time_password_is_rfc6238_totp_sha256_over_30_second_steps(unix_time, rfc, ours):
    step = time_step(unix_time)
    assert step == unix_time // 30
    assert hotp_sha256(RFC6238_SHA256_SEED, step, 8) == rfc
    assert hotp_sha256(RFC6238_SHA256_SEED, step, 9) == ours
    assert otp(RFC6238_SHA256_SEED, step) == ours
    assert ours[-8:] == rfc


def test_the_18_digits_are_prefix_device_index_and_password():
    code = member_code("88", 1234567, RFC6238_SHA256_SEED, time_step(59))
    assert code == "88" + "1234567" + "746119246" == "881234567746119246"
    assert member_code("88", 42, RFC6238_SHA256_SEED, time_step(59)) == "880000042746119246"  # index zero-padded
    parsed = parse_member_code(code, "88")
    assert (parsed.device_index, parsed.otp) == (1234567, "746119246")


def test_a_code_is_accepted_one_step_either_side_and_is_expired_after():
    step = time_step(1234567890)
    password = OURS_9_DIGITS[3]
    assert [match_step(RFC6238_SHA256_SEED, password, step + delta) for delta in (-1, 0, 1)] == [
        ("valid", step),
        ("valid", step),
        ("valid", step),
    ]
    assert match_step(RFC6238_SHA256_SEED, password, step + 2) == ("expired", step)
    assert match_step(RFC6238_SHA256_SEED, "000000000", step) == ("invalid", None)


def test_the_device_secret_is_an_hmac_of_device_id_and_seed_under_a_key_derived_from_the_pii_hash_key():
    pii_hash_key = bytes(range(96, 128))
    device = MemberDevice(id="dev_0123456789abcdef", secret_seed=bytes([0x5A]) * 32)
    device_key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"member code device secret").derive(
        pii_hash_key
    )
    documented = hmac.new(device_key, b"dev_0123456789abcdef" + bytes([0x5A]) * 32, hashlib.sha256).digest()
    assert documented.hex() == "7f2794a6214a0dfb2433da9842a309ead095bcc216faf068806fa9efc443a54b"

    app = Flask(__name__)  # the server's key ring is all device_secret reads from the application
    app.extensions["alliance_keys"] = KeyRing(bytes(32), pii_hash_key, bytes(32), bytes(32), bytes(32))
    with app.app_context():
        assert device_secret(device) == documented
