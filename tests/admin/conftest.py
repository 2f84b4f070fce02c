"""Fixtures for the administration tests."""

import pytest

from tests.support import sign_in


@pytest.fixture
def admin_client(client, admin_user):
    """A browser signed in as Ada, an administrator without two-step authentication."""
    assert sign_in(client, "ada@example.com").status_code == 303
    return client
