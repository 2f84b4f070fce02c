"""TOTP per RFC 6238 as every authenticator app reads it: SHA-1, 6 digits, 30 seconds.

Times are passed in explicitly (from portal.clock), so tests move a clock instead of
sleeping, and the caller decides which time steps are still acceptable.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
from dataclasses import dataclass
from datetime import datetime

import pyotp
import segno

from portal.wording import plural

DIGITS = 6
PERIOD = 30
ALGORITHM = "SHA1"
SECRET_BYTES = 20  # 160 bits, the length RFC 4226 recommends
DRIFT_STEPS = 1  # one step either way is accepted
# How far off a phone's clock may be and still be recognised, to tell the person why.
CLOCK_SEARCH_STEPS = 20  # ten minutes either way


def new_secret() -> str:
    return pyotp.random_base32(length=SECRET_BYTES * 8 // 5)


def step_at(moment: datetime) -> int:
    return int(moment.timestamp()) // PERIOD


def _key(secret: str) -> bytes:
    padded = secret.upper() + "=" * (-len(secret) % 8)
    return base64.b32decode(padded)


def _hotp(key: bytes, counter: int) -> str:
    # RFC 4226 dynamic truncation; written out so a check over the drift and clock
    # windows costs microseconds (the key is decoded once per check, not per step).
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    number = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(number % 10**DIGITS).zfill(DIGITS)


def code_at_step(secret: str, step: int) -> str:
    return _hotp(_key(secret), step)


def code_at(secret: str, moment: datetime) -> str:
    return code_at_step(secret, step_at(moment))


def normalize(code: str) -> str | None:
    """Digits only, spaces allowed between them; anything else is not a code."""
    cleaned = code.replace(" ", "").strip()
    if len(cleaned) != DIGITS or not cleaned.isdigit() or not cleaned.isascii():
        return None
    return cleaned


@dataclass(frozen=True)
class CodeCheck:
    step: int | None  # the accepted time step, or None
    clock_offset_minutes: int | None = None  # set when the code fits a time a few minutes off


def check(secret: str, code: str, moment: datetime) -> CodeCheck:
    """Which step within the drift window this code belongs to, if any."""
    cleaned = normalize(code)
    if cleaned is None:
        return CodeCheck(step=None)
    key = _key(secret)
    current = step_at(moment)
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if hmac.compare_digest(_hotp(key, step), cleaned):
            return CodeCheck(step=step)
    for distance in range(DRIFT_STEPS + 1, CLOCK_SEARCH_STEPS + 1):
        for step in (current - distance, current + distance):
            if hmac.compare_digest(_hotp(key, step), cleaned):
                minutes = round((step - current) * PERIOD / 60) or (1 if step > current else -1)
                return CodeCheck(step=None, clock_offset_minutes=minutes)
    return CodeCheck(step=None)


def provisioning_uri(secret: str, *, account: str, issuer: str) -> str:
    """The otpauth:// URI of the Key Uri Format that authenticator apps scan."""
    return pyotp.TOTP(
        secret, digits=DIGITS, interval=PERIOD, name=account, issuer=issuer
    ).provisioning_uri()


def qr_svg(uri: str) -> str:
    """The QR code as inline SVG markup: no image request, no outside service."""
    qr = segno.make(uri, error="m", micro=False)
    return qr.svg_inline(scale=4, border=2, dark="#111", light="#fff", omitsize=True)


def grouped(secret: str) -> str:
    """The key in groups of four, as people type it."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def clock_advice(offset_minutes: int) -> str:
    direction = "ahead of" if offset_minutes > 0 else "behind"
    amount = abs(offset_minutes)
    return (
        "That code would be right if your phone's clock were about "
        f"{plural(amount, 'minute', 'minutes')} off: "
        f"it seems to be {direction} the correct time. Set your phone to take the time "
        "from the network, then use a new code."
    )
