"""Waits between code attempts on the Security page's guarded forms: said in words, with
the exact wait for the page's countdown, and gone once the wait is over."""

from __future__ import annotations

import pytest

from tests.support import page_text, post, sign_in_with_code, wrong_code

PASSWORD = "correct horse battery"


@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
def test_the_device_form_says_the_wait_and_counts_it_down(client, employee, enrol, clock, htmx):
    secret, _ = enrol(employee)
    sign_in_with_code(client, secret, clock)
    for _ in range(3):
        response = post(
            client,
            "/profile/security/device",
            {"password": PASSWORD, "code": wrong_code(secret, clock)},
            htmx=htmx,
        )
    text = page_text(response)
    assert "Please wait a few seconds before the next try." in text
    assert 'data-wait-seconds="5"' in text
    assert "data-wait-button" in text

    opened = client.get("/profile/security?open=device")
    assert 'data-wait-seconds="5"' in page_text(opened)
    clock.advance(seconds=6)
    assert "data-wait-seconds" not in page_text(client.get("/profile/security?open=device"))
