"""An unexpected failure inside a request: nothing it wrote is kept, and the person is told."""

import pytest

from portal.database import db
from portal.models import User
from portal.services import accounts
from tests.support import HTMX_HEADERS, csrf_token, page_text, sign_in, user_by_email


@pytest.fixture
def failing_app(app):
    """The test app with one more route, which writes a row and then fails."""

    @app.post("/test-only/fails-halfway/<failure>")
    def fails_halfway(failure: str):
        accounts.create(name="Half Made", email="half@example.com", password=None)
        db.session.flush()  # the row is in the database's transaction now
        if failure == "database-error":
            # A second account with Emma's email: the unique index refuses the flush,
            # and the transaction can do nothing more until it is rolled back.
            db.session.add(User(name="Emma Twin", email="emma@example.com"))
            db.session.flush()
        raise RuntimeError("failed halfway through")

    return app


@pytest.mark.parametrize("failure", ["exception", "database-error"])
@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
def test_a_failure_halfway_rolls_back_and_shows_the_error_page(
    failing_app, client, employee, clock, htmx, failure
):
    sign_in(client, "emma@example.com")
    token = csrf_token(client, "/profile/")
    # Long enough since the last request that showing the error page, which reads the
    # signed-in user, records the session as seen: a commit after the failure, which
    # must find nothing of the half-done work.
    clock.advance(minutes=5)

    path = f"/test-only/fails-halfway/{failure}"
    if htmx:
        response = client.post(path, headers={**HTMX_HEADERS, "X-CSRFToken": token})
    else:
        response = client.post(path, data={"csrf_token": token})

    assert response.status_code == 500
    text = page_text(response)
    assert "Something went wrong" in text
    assert "Nothing was changed" in text
    assert "Traceback" not in text and "failed halfway through" not in text
    if htmx:
        assert response.headers["HX-Retarget"] == "#alerts"
        assert "<html" not in text
    else:
        assert "<html" in text
    assert user_by_email(failing_app, "half@example.com") is None
    assert client.get("/profile/security").status_code == 200  # still signed in
