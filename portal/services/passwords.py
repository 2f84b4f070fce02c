"""argon2id password hashing with rehash-on-sign-in when the parameters change."""

from __future__ import annotations

import re

from argon2 import PasswordHasher as Argon2Hasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 10
MAX_LENGTH = 256


class PasswordHasher:
    """Hashes and verifies passwords with the configured argon2id parameters."""

    def __init__(self, time_cost: int, memory_cost: int, parallelism: int) -> None:
        self.hasher = Argon2Hasher(
            time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism
        )
        # Made now, not on first use, so even the first unknown email costs one verify.
        self._dummy_hash = self.hasher.hash("an account that does not exist")

    def hash(self, password: str) -> str:
        return self.hasher.hash(password)

    def verify(self, stored_hash: str | None, password: str) -> bool:
        """Constant work whether or not there is a hash, so timing tells nothing."""
        try:
            return self.hasher.verify(stored_hash or self._dummy_hash, password) and bool(
                stored_hash
            )
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        return self.hasher.check_needs_rehash(stored_hash)


def problem_with(password: str, *, email: str = "", name: str = "") -> str | None:
    """A human sentence about why a new password is refused, or None."""
    if len(password) < MIN_LENGTH:
        return f"Use at least {MIN_LENGTH} characters."
    if len(password) > MAX_LENGTH:
        return f"Use at most {MAX_LENGTH} characters."
    lowered = password.lower()
    if email and lowered == email.lower():
        return "The password must not be your email address."
    if name and lowered == name.lower():
        return "The password must not be your name."
    if len(set(password)) < 4:
        return "That password is too easy to guess."
    letters = re.sub(r"[^a-z]", "", lowered)
    if letters in COMMON_WORDS or password.isdigit():
        return "That password is among the first that attackers try. Use a few unrelated words."
    return None


# Words that, padded with digits or symbols, make the passwords tried first.
COMMON_WORDS = frozenset(
    {
        "password",
        "passwort",
        "passw",
        "qwerty",
        "qwertyuiop",
        "asdfgh",
        "letmein",
        "welcome",
        "admin",
        "administrator",
        "iloveyou",
        "monkey",
        "dragon",
        "football",
        "baseball",
        "sunshine",
        "princess",
        "trustno",
        "changeme",
        "secret",
        "master",
        "login",
        "abc",
        "abcdef",
        "test",
        "guest",
        "summer",
        "winter",
        "spring",
        "autumn",
    }
)
