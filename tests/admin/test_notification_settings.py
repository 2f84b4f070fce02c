"""The notifications panel of the security settings: the sign-in code option, test mail."""

from portal.database import db
from portal.models import Company
from portal.services import audit
from tests.support import audit_rows, page_text, post


def _option(app) -> bool:
    with app.app_context():
        return db.session.get(Company, 1).sign_in_code_notices


def test_the_option_is_off_until_an_administrator_turns_it_on(app, admin_client):
    page = page_text(admin_client.get("/admin/security"))
    assert "Send authentication code to Notifications" in page
    assert 'checked id="sign_in_codes-1" name="sign_in_codes" type="radio" value="off"' in page
    assert not _option(app)

    swapped = post(
        admin_client, "/admin/security/notifications", {"sign_in_codes": "on"}, htmx=True
    )
    assert swapped.status_code == 200
    assert "Notification settings saved." in page_text(swapped)
    assert "<html" not in page_text(swapped)
    assert _option(app)
    [row] = audit_rows(app, audit.TWO_STEP_POLICY_CHANGED)
    assert row.detail == "authentication code to notifications: off -> on"

    plain = post(admin_client, "/admin/security/notifications", {"sign_in_codes": "off"})
    assert plain.status_code == 303
    assert plain.headers["Location"].endswith("/admin/security#notification-settings")
    assert "Notification settings saved." in page_text(admin_client.get("/admin/security"))
    assert not _option(app)


def test_a_choice_that_is_neither_on_nor_off_changes_nothing(app, admin_client):
    response = post(admin_client, "/admin/security/notifications", {"sign_in_codes": "maybe"})
    assert response.status_code == 422
    assert "Choose on or off." in page_text(response)
    assert not _option(app)
    assert audit_rows(app, audit.TWO_STEP_POLICY_CHANGED) == []


def test_a_test_mail_needs_a_mail_server(app, admin_client):
    response = post(admin_client, "/admin/security/test-mail")
    assert response.status_code == 422
    assert "No mail server is set" in page_text(response)


def test_only_administrators_change_the_option(app, client, employee):
    from tests.support import sign_in

    sign_in(client, "emma@example.com")
    assert post(client, "/admin/security/notifications", {"sign_in_codes": "on"}).status_code == 403
    assert post(client, "/admin/security/test-mail").status_code == 403
    assert not _option(app)
