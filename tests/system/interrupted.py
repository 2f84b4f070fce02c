"""A change run by the portal's real code in a process of its own, which stops at a chosen
point inside the change's transaction and waits there to be killed.

    python -m tests.system.interrupted <change> <pause> <database_url> <session token> <code>

<change> is `recovery-sign-in` (the second step with a recovery code, posted to the
portal's own route) or `new-device` (confirming the code of a new phone). <pause> names
the service function after which the process waits, or `none` to let the change finish.
The process prints PAUSED when it waits, DONE when the change went through.
"""

from __future__ import annotations

import sys
import time

from portal.auth.current import COOKIE_NAME
from portal.services import notifications, recovery_codes, sessions
from tests.support import post
from tests.system.servers import portal_app

# Where a change may stop: (module, function) of a step inside its transaction.
PAUSE_POINTS = {
    "recovery_codes.redeem": (recovery_codes, "redeem"),
    "sessions.promote": (sessions, "promote"),
    "sessions.end_all_except": (sessions, "end_all_except"),
    "notifications.notify": (notifications, "notify"),
}
ROUTES = {"recovery-sign-in": "/login/recovery", "new-device": "/profile/security/confirm"}


def _pause_after(module, name: str) -> None:
    original = getattr(module, name)

    def paused(*args, **kwargs):
        result = original(*args, **kwargs)
        print("PAUSED", flush=True)
        time.sleep(120)
        return result

    setattr(module, name, paused)


def main(change: str, pause: str, database_url: str, token: str, code: str) -> None:
    app = portal_app(database_url)
    if pause != "none":
        _pause_after(*PAUSE_POINTS[pause])
    client = app.test_client()
    client.set_cookie(COOKIE_NAME, token)
    response = post(client, ROUTES[change], {"code": code})
    assert response.status_code == 303, response.get_data(as_text=True)
    print("DONE", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
