"""The background worker (``flask --app wsgi mail-worker``): delivers the mail outbox when
a mail server is set, and purges what is no longer of use every PURGE_INTERVAL seconds.

``make run`` starts it beside gunicorn with ``--optional``: without a mail server it stays
for the purge alone. Several may run at once (one per app server): each mail is claimed
before it is sent, and concurrent purges neither fail nor count a row twice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError

from portal import clock
from portal.database import db
from portal.services import mail, purge
from portal.wording import plural

log = logging.getLogger(__name__)


class Worker:
    """One worker's rounds. ``say`` reports what was done (the command prints it)."""

    def __init__(
        self,
        *,
        deliver_mail: bool,
        purge_every: timedelta | None,
        idle_wait: float,
        say: Callable[[str], None],
        sleep: Callable[[float], None] = time.sleep,
        send: mail.Send | None = None,
    ) -> None:
        self.id = mail.new_worker_id()
        self.deliver_mail = deliver_mail
        self.purge_every = purge_every
        self.idle_wait = idle_wait
        self.say = say
        self.sleep = sleep
        self.send = send
        self.next_purge: datetime | None = None

    @property
    def has_work(self) -> bool:
        return self.deliver_mail or self.purge_every is not None

    def round(self) -> bool:
        """Purges when it is due, then delivers the mail that is due; True when mail went
        out (more may be waiting, so the next round comes at once)."""
        try:
            self._purge_if_due()
            sent = self._deliver()
        finally:
            db.session.close()
        return sent > 0

    def run(self, *, once: bool = False, stopping: Callable[[], bool] = lambda: False) -> None:
        """Rounds until ``stopping()`` (or one with ``once``). Sleeps in short steps, so
        that a stop is noticed within ``idle_wait`` seconds even between purges."""
        while True:
            busy = self.round()
            if once or stopping():
                return
            if not busy:
                self.sleep(self.idle_wait)
            if stopping():
                return

    def _purge_if_due(self) -> None:
        if self.purge_every is None:
            return
        now = clock.now()
        if self.next_purge is not None and now < self.next_purge:
            return
        self.next_purge = now + self.purge_every
        try:
            results = purge.run()
        except SQLAlchemyError:
            # The mail goes on; the next purge tries again.
            db.session.rollback()
            log.exception("Purge failed; it runs again in %s", self.purge_every)
            return
        done = [result.describe() for result in results if result.count]
        if done:
            self.say("Purged: " + ", ".join(done) + ".")

    def _deliver(self) -> int:
        if not self.deliver_mail:
            return 0
        sent, failed = mail.deliver_due(self.id, send=self.send)
        if sent or failed:
            self.say(f"{sent} sent, {failed} to retry later.")
        return sent


def purge_every(seconds: int) -> timedelta | None:
    """PURGE_INTERVAL as the worker takes it: None (no purge) for 0 or less."""
    return timedelta(seconds=seconds) if seconds > 0 else None


def describe_interval(every: timedelta) -> str:
    return plural(int(every.total_seconds()), "second", "seconds")
