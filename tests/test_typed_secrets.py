"""No code or password a person typed is ever written back into a page: after a refused
submission, every form with a code or a password field comes back with those fields empty
(WTForms would otherwise render the typed value again, a recovery code in clear)."""

from __future__ import annotations

import pytest

from tests.support import page_text, post, sign_in, sign_in_with_code, wrong_code

# Values no page would show by itself, so finding one means it was rendered back.
TYPED_CODE = "927361"
TYPED_RECOVERY = "zq7xk-m4vtp"
TYPED_PASSWORD = "typed-secret wrong-pass"


def _assert_not_echoed(response, *typed: str) -> None:
    assert 400 <= response.status_code < 500, response.status_code
    html = page_text(response)
    for value in typed:
        assert value not in html, f"{value!r} was rendered back into the page"


@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
def test_sign_in_steps_do_not_echo_codes(client, employee, enrol, htmx):
    enrol(employee)
    sign_in(client, "emma@example.com")
    _assert_not_echoed(post(client, "/login/code", {"code": TYPED_CODE}, htmx=htmx), TYPED_CODE)
    _assert_not_echoed(
        post(client, "/login/recovery", {"code": TYPED_RECOVERY}, htmx=htmx), TYPED_RECOVERY
    )


@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
def test_security_page_forms_do_not_echo_codes_or_passwords(client, make_user, enrol, clock, htmx):
    # Enabling: the password to continue, then the first code from the app.
    make_user("olga@example.com", name="Olga Off")
    sign_in(client, "olga@example.com")
    clock.advance(minutes=10)  # the password is no longer fresh: Enable asks for it
    _assert_not_echoed(
        post(client, "/profile/security/enable", {"password": TYPED_PASSWORD}, htmx=htmx),
        TYPED_PASSWORD,
    )
    post(client, "/profile/security/enable", {"password": "correct horse battery"})
    _assert_not_echoed(
        post(client, "/profile/security/confirm", {"code": TYPED_CODE}, htmx=htmx), TYPED_CODE
    )
    _assert_not_echoed(
        post(client, "/profile/security/confirm", {"code": "12"}, htmx=htmx), 'value="12"'
    )


@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
@pytest.mark.parametrize(
    "path", ["/profile/security/device", "/profile/security/turn-off"], ids=["device", "off"]
)
def test_guarded_changes_do_not_echo_codes(client, employee, enrol, clock, path, htmx):
    secret, codes = enrol(employee)
    sign_in_with_code(client, secret, clock)
    for password, code in [
        (TYPED_PASSWORD, codes[0]),
        ("correct horse battery", wrong_code(secret, clock)),
        ("correct horse battery", TYPED_RECOVERY),
        ("", codes[1]),
    ]:
        response = post(client, path, {"password": password, "code": code}, htmx=htmx)
        _assert_not_echoed(response, password or TYPED_PASSWORD, code)


@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
def test_new_recovery_codes_form_does_not_echo(client, employee, enrol, clock, htmx):
    secret, _codes = enrol(employee)
    sign_in_with_code(client, secret, clock)
    for password, code in [(TYPED_PASSWORD, TYPED_CODE), ("correct horse battery", "12345")]:
        response = post(
            client,
            "/profile/security/recovery-codes",
            {"password": password, "code": code},
            htmx=htmx,
        )
        _assert_not_echoed(response, password, f'value="{code}"')


@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
def test_password_form_does_not_echo_passwords(client, employee, htmx):
    sign_in(client, "emma@example.com")
    response = post(
        client,
        "/profile/password",
        {"current_password": TYPED_PASSWORD, "new_password": "short", "confirm": "other one"},
        htmx=htmx,
    )
    _assert_not_echoed(response, TYPED_PASSWORD, 'value="short"', 'value="other one"')


@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
def test_showing_unsaved_codes_again_does_not_echo(client, employee, enrol, clock, htmx):
    secret, codes = enrol(employee, codes_saved=False)
    sign_in_with_code(client, secret, clock)
    for password, code in [
        (TYPED_PASSWORD, TYPED_CODE),
        ("correct horse battery", wrong_code(secret, clock)),
        ("correct horse battery", codes[0]),
    ]:
        response = post(
            client,
            "/profile/security/recovery-codes/show",
            {"password": password, "code": code},
            htmx=htmx,
        )
        typed = [code] if password == "correct horse battery" else [password, code]
        _assert_not_echoed(response, *typed)
