"""gunicorn's logger, minus the secrets that travel in URL paths."""

from gunicorn.glogging import Logger

# Paths whose last part is a bearer token: a logged link is a usable link.
SECRET_PATH_PREFIXES = ("/invitation/",)


def redact_path(path: str) -> str:
    for prefix in SECRET_PATH_PREFIXES:
        if path.startswith(prefix):
            return prefix + "[redacted]"
    return path


class RedactingLogger(Logger):
    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        path = atoms.get("U")
        if path is not None:
            atoms["U"] = redact_path(path)
        if "r" in atoms:  # the request line, should an operator log it
            method, _, rest = atoms["r"].partition(" ")
            target, _, protocol = rest.partition(" ")
            atoms["r"] = f"{method} {redact_path(target.split('?', 1)[0])} {protocol}".strip()
        return atoms
