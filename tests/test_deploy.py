"""deploy/ agrees with the code: the units run commands that exist, nginx sends what the portal reads."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from werkzeug.middleware.proxy_fix import ProxyFix

from portal import create_app
from portal.config import PROJECT_ROOT, Defaults
from portal.services import doctor

DEPLOY = PROJECT_ROOT / "deploy"
UNITS = ("portal.service", "portal-mail.service", "portal-purge.service")
TIMERS = ("portal-purge.timer",)
APP_DIR = "/srv/portal"


def unit_lines(name: str, key: str) -> list[str]:
    text = (DEPLOY / name).read_text()
    return [line.split("=", 1)[1] for line in text.splitlines() if line.startswith(f"{key}=")]


def environment(name: str) -> dict[str, str]:
    pairs = [pair for line in unit_lines(name, "Environment") for pair in shlex.split(line)]
    return dict(pair.split("=", 1) for pair in pairs)


def nginx_locations() -> dict[str, str]:
    text = (DEPLOY / "portal.nginx").read_text()
    return dict(re.findall(r"location (\S+) \{(.*?)\n    \}", text, re.DOTALL))


def flask_command(argv: list[str]) -> list[str]:
    assert argv[:3] == [f"{APP_DIR}/.venv/bin/flask", "--app", "wsgi"], argv
    return argv[3:]


@pytest.mark.parametrize("name", UNITS)
def test_every_flask_command_a_unit_runs_exists(app, name):
    commands = [
        flask_command(shlex.split(line))
        for key in ("ExecStartPre", "ExecStart")
        for line in unit_lines(name, key)
        if "/flask " in line
    ]
    assert commands
    for args in commands:
        # --help parses the whole line without running it: an unknown command or option fails.
        result = app.test_cli_runner().invoke(args=[*args, "--help"])
        assert result.exit_code == 0, (args, result.output)


def test_the_mail_worker_unit_runs_the_mail_worker():
    (line,) = unit_lines("portal-mail.service", "ExecStart")
    assert flask_command(shlex.split(line)) == ["mail-worker"]


def test_the_purge_unit_runs_one_purge_as_the_portals_user():
    (line,) = unit_lines("portal-purge.service", "ExecStart")
    assert flask_command(shlex.split(line)) == ["purge"]
    assert unit_lines("portal-purge.service", "Type") == ["oneshot"]
    for key in ("User", "WorkingDirectory"):
        assert unit_lines("portal-purge.service", key) == unit_lines("portal.service", key)


def test_the_purge_timer_starts_the_purge_unit_as_often_as_the_worker_purges():
    assert unit_lines("portal-purge.timer", "Unit") == ["portal-purge.service"]
    assert (DEPLOY / "portal-purge.service").is_file()
    # systemd's "hourly" is the worker's default interval: either way, a purge an hour.
    assert unit_lines("portal-purge.timer", "OnCalendar") == ["hourly"]
    assert Defaults.PURGE_INTERVAL == 3600
    assert unit_lines("portal-purge.timer", "Persistent") == ["true"]
    assert unit_lines("portal-purge.timer", "WantedBy") == ["timers.target"]


def test_the_portal_unit_runs_gunicorn_with_the_projects_config():
    (line,) = unit_lines("portal.service", "ExecStart")
    argv = shlex.split(line)
    assert argv[0] == f"{APP_DIR}/.venv/bin/gunicorn"
    config = argv[argv.index("-c") + 1]
    assert config == "python:portal.gunicorn_conf"
    assert (PROJECT_ROOT / "portal" / "gunicorn_conf.py").is_file()
    assert argv[-1] == "wsgi:app"


def test_the_portal_unit_listens_where_nginx_sends_on_loopback_only():
    env = environment("portal.service")
    address = f"http://{env['HOST']}:{env['PORT']}"
    assert env["HOST"] == "127.0.0.1"
    for location, body in nginx_locations().items():
        if "proxy_pass" in body:
            assert f"proxy_pass {address};" in body, location


def test_the_units_settings_are_the_portals_own_and_pass_the_doctors_proxy_checks(tmp_path):
    env = environment("portal.service")
    portal_settings = {key.removeprefix("PORTAL_") for key in env if key.startswith("PORTAL_")}
    assert portal_settings <= {name for name in dir(Defaults) if name.isupper()}

    app = create_app(
        {
            "SECRET_KEY": "k" * 40,
            "ENCRYPTION_KEY": "e" * 40,
            "INSTANCE_PATH": str(tmp_path),
            "HTTPS": env["PORTAL_HTTPS"] == "1",
            "TRUSTED_PROXIES": int(env["PORTAL_TRUSTED_PROXIES"]),
        }
    )
    with app.app_context():
        assert doctor.check_https().ok
        assert doctor.check_proxies().ok


def test_nginx_sets_every_header_the_portals_proxy_settings_read():
    env = environment("portal.service")
    hops = int(env["PORTAL_TRUSTED_PROXIES"])
    # The headers ProxyFix is told to read in portal/__init__.py.
    fix = ProxyFix(lambda environ, start: [], x_for=hops, x_proto=hops, x_host=hops)
    read = {
        "X-Forwarded-For": fix.x_for,
        "X-Forwarded-Proto": fix.x_proto,
        "X-Forwarded-Host": fix.x_host,
    }
    needed = {header for header, count in read.items() if count}
    assert needed
    for location, body in nginx_locations().items():
        if "proxy_pass" not in body:
            continue
        sent = set(re.findall(r"proxy_set_header (X-Forwarded-[\w-]+) ", body))
        assert needed <= sent, location
        # One trusted proxy reads one entry: nginx replaces the header instead of appending
        # whatever the client sent, so a client cannot choose its own address.
        assert "proxy_set_header X-Forwarded-For $remote_addr;" in body, location
        assert "proxy_set_header X-Forwarded-Proto $scheme;" in body, location


def test_nginx_ends_tls_and_sends_plain_http_to_https():
    text = (DEPLOY / "portal.nginx").read_text()
    assert re.search(r"listen 443 ssl;", text)
    assert "ssl_certificate " in text and "ssl_certificate_key " in text
    assert "return 301 https://$host$request_uri;" in text


def test_nginx_serves_the_static_folder_and_allows_the_portals_largest_body():
    text = (DEPLOY / "portal.nginx").read_text()
    assert f"alias {APP_DIR}/static/;" in text
    assert (PROJECT_ROOT / "static").is_dir()
    limit = re.search(r"client_max_body_size (\d+)m;", text)
    assert limit is not None
    megabytes = int(limit.group(1))
    assert megabytes * 1024 * 1024 == Defaults.MAX_CONTENT_LENGTH


def test_the_readme_uses_the_deploy_files_instead_of_copies():
    readme = (PROJECT_ROOT / "README.md").read_text()
    for name in (*UNITS, *TIMERS, "portal.nginx", "config.py.example"):
        assert f"deploy/{name}" in readme, name
    # No inline unit or nginx site that could drift from deploy/.
    assert "```ini" not in readme
    assert "```nginx" not in readme
    assert "flask --app wsgi doctor" in readme
    assert "flask --app wsgi restore" in readme


def test_the_example_keys_are_placeholders_the_doctor_knows(tmp_path: Path):
    assert {"replace-with-a-fresh-key-from-secrets.token_urlsafe-48"} <= doctor.example_keys()
