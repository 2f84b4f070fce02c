"""gunicorn settings for `make run`; production may pass its own with -c."""

import os

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '5000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
accesslog = "-"
# The access log must never carry tokens: the path is logged without its query string
# (setup links), and password links are blanked by the logger class below.
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(L)ss'
logger_class = "portal.access_log.RedactingLogger"


def when_ready(server):
    """Print the first-run link once, from the master, while setup is open."""
    from portal import create_app
    from portal.database import db
    from portal.services import first_run

    app = create_app()
    with app.app_context():
        needed = first_run.is_needed()
        # The workers are forked from this process: no pooled connection goes with them.
        db.session.close()
        db.engine.dispose()
        if needed:
            token = first_run.ensure_token(app.instance_path)
            host, port = server.address[0] if server.address else ("127.0.0.1", 5000)
            print(
                "\nFirst run: open this link to set up the portal (it works once):\n"
                f"http://{host}:{port}/setup?token={token}\n",
                flush=True,
            )
