"""Security headers on every response."""

from flask import Flask, request

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def security_headers(https: bool) -> list[tuple[str, str]]:
    """The headers every response carries (the bell's poll sends them itself)."""
    headers = [
        ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"),
        ("Referrer-Policy", "same-origin"),
        ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
    ]
    if https:
        headers.append(("Strict-Transport-Security", "max-age=31536000"))
    return headers


def init_app(app: Flask) -> None:
    every_response = [
        (name.lower(), name, value) for name, value in security_headers(app.config["HTTPS"])
    ]

    @app.after_request
    def _security_headers(response):
        headers = response.headers
        # A view may have set one of them itself. (Looked up by name, each header that is
        # missing would cost a KeyError raised and caught.)
        present = {name.lower() for name, _value in headers.items()}
        for lowered, name, value in every_response:
            if lowered not in present:
                headers.add(name, value)
        if request.endpoint != "static":
            # Pages carry personal data, secrets and codes: no copies in any cache.
            headers["Cache-Control"] = "no-store"
            # The same URL answers htmx with a fragment and a browser with the page.
            response.vary.add("HX-Request")
        return response
