"""The server's access log never carries a password link's token."""

from types import SimpleNamespace

from gunicorn.config import Config

from portal.access_log import RedactingLogger


def _atoms(path: str, query: str = "") -> dict:
    logger = RedactingLogger(Config())
    request = SimpleNamespace(
        method="GET",
        path=path,
        query=query,
        uri=path + ("?" + query if query else ""),
        version=(1, 1),
        headers=[],
    )
    response = SimpleNamespace(status="200 OK", sent=10, headers=[], status_code=200)
    environ = {
        "RAW_URI": request.uri,
        "REMOTE_ADDR": "127.0.0.1",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "REQUEST_METHOD": "GET",
        "SERVER_PROTOCOL": "HTTP/1.1",
    }
    from datetime import timedelta

    return logger.atoms(response, request, environ, timedelta(seconds=0.01))


def test_invitation_tokens_are_blanked():
    atoms = _atoms("/invitation/SECRET-TOKEN-123")
    assert "SECRET-TOKEN-123" not in atoms["U"] and "SECRET-TOKEN-123" not in atoms["r"]
    assert atoms["U"] == "/invitation/[redacted]"


def test_query_strings_stay_out_of_the_request_line():
    atoms = _atoms("/setup", "token=SETUP-TOKEN-456")
    assert "SETUP-TOKEN-456" not in atoms["r"] and "SETUP-TOKEN-456" not in atoms["U"]


def test_other_paths_are_logged_as_they_are():
    assert _atoms("/profile/security")["U"] == "/profile/security"
