"""Fixtures of the system tests: a database for a real server, on whichever database the
run uses (PORTAL_TEST_DATABASE_URL's PostgreSQL server, else an SQLite file), and a Redis
database number of their own, emptied first."""

from __future__ import annotations

import pytest

from tests.system.servers import REDIS_URL, on_postgres, postgres_database


@pytest.fixture(scope="module")
def server_database(tmp_path_factory):
    """The URL of a fresh, empty database for a server (migrated when it starts)."""
    if on_postgres():
        with postgres_database() as url:
            yield url
        return
    yield f"sqlite:///{tmp_path_factory.mktemp('database') / 'portal.db'}"


def redis_database(number: int) -> str | None:
    """redis://.../<number> on the run's Redis, emptied; None when the run has none."""
    if not REDIS_URL:
        return None
    import redis

    base = REDIS_URL.rsplit("/", 1)[0] if REDIS_URL.count("/") > 2 else REDIS_URL
    url = f"{base}/{number}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()
    return url
