"""The TOTP wrapper against RFC 6238's SHA-1 test vectors, and its drift rules."""

from datetime import UTC, datetime

import pytest

from portal.services import totp

# RFC 6238 appendix B, SHA-1, secret "12345678901234567890"; our codes are 6 digits,
# the last six of the RFC's eight.
RFC_SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
RFC_VECTORS = [
    (59, "94287082"),
    (1111111109, "07081804"),
    (1111111111, "14050471"),
    (1234567890, "89005924"),
    (2000000000, "69279037"),
    (20000000000, "65353130"),
]


@pytest.mark.parametrize(("unix_time", "eight_digits"), RFC_VECTORS)
def test_rfc_6238_sha1_vectors(unix_time, eight_digits):
    moment = datetime.fromtimestamp(unix_time, tz=UTC)
    assert totp.code_at(RFC_SECRET, moment) == eight_digits[-6:]


def test_new_secret_has_160_bits():
    secret = totp.new_secret()
    assert len(secret) == 32  # 32 base32 characters carry 160 bits
    assert set(secret) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
    assert totp.new_secret() != secret


@pytest.mark.parametrize(
    ("offset_steps", "accepted"), [(-2, False), (-1, True), (0, True), (1, True), (2, False)]
)
def test_one_step_of_drift_either_way(offset_steps, accepted):
    now = datetime(2026, 3, 2, 9, 0, 15, tzinfo=UTC)
    step = totp.step_at(now) + offset_steps
    result = totp.check(RFC_SECRET, totp.code_at_step(RFC_SECRET, step), now)
    assert (result.step == step) is accepted
    if not accepted:
        assert result.step is None


@pytest.mark.parametrize("minutes", [-7, -3, 4, 9])
def test_a_code_from_a_clock_minutes_off_is_recognised(minutes):
    now = datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC)
    code = totp.code_at_step(RFC_SECRET, totp.step_at(now) + minutes * 2)
    result = totp.check(RFC_SECRET, code, now)
    assert result.step is None
    assert result.clock_offset_minutes == minutes
    assert f"about {abs(minutes)} minutes" in totp.clock_advice(minutes)


@pytest.mark.parametrize("code", ["", "12345", "1234567", "abcdef", "１２３４５６", "12 34 5x"])
def test_malformed_codes_are_not_codes(code):
    assert totp.normalize(code) is None
    assert totp.check(RFC_SECRET, code, datetime.now(UTC)).step is None


def test_provisioning_uri_follows_the_key_uri_format():
    uri = totp.provisioning_uri(RFC_SECRET, account="emma@example.com", issuer="Acme Tools")
    assert uri.startswith("otpauth://totp/Acme%20Tools:emma%40example.com?")
    assert f"secret={RFC_SECRET}" in uri
    assert "issuer=Acme%20Tools" in uri


def test_qr_code_is_inline_svg_with_no_outside_reference():
    svg = totp.qr_svg("otpauth://totp/Acme:emma?secret=" + RFC_SECRET)
    assert svg.startswith("<svg")
    assert "http" not in svg and "href" not in svg


def test_key_is_shown_in_groups_of_four():
    assert totp.grouped("ABCDEFGHIJKLMNOP") == "ABCD EFGH IJKL MNOP"


def test_codes_match_pyotp_for_random_secrets():
    import pyotp

    for _ in range(20):
        secret = totp.new_secret()
        for step in (0, 1, 55_000_000, 2**40):
            assert totp.code_at_step(secret, step) == pyotp.TOTP(secret).generate_otp(step)
