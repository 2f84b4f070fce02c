"""The company's two-step policy: the one place that says what the company allows.

The company has no mandatory-2FA setting yet, so every employee may turn it off; when
that setting arrives, this function is where it is enforced.
"""

from portal.models import User


def may_turn_off_two_step(user: User) -> bool:
    return True
