"""Fixtures for the administration tests."""

import pytest

from tests.support import sign_in, sign_in_with_code


@pytest.fixture
def admin_client(client, admin_user):
    """A browser signed in as Ada, an administrator without two-step authentication."""
    assert sign_in(client, "ada@example.com").status_code == 303
    return client


@pytest.fixture
def admin_with_two_step(client, clock, admin_user, enrol):
    """A browser signed in as Ada with both steps: two-step authentication is on for her."""
    secret, _codes = enrol(admin_user)
    sign_in_with_code(client, secret, clock, email="ada@example.com")
    return client
