"""Writes instance/config.py with fresh secret keys unless it exists already.

Run as ``python -m portal.instance_keys [INSTANCE_DIR]``; ``make run`` does so.
"""

import secrets
import sys
from pathlib import Path

from portal.config import PROJECT_ROOT


def ensure_instance_config(instance_dir: Path) -> Path:
    instance_dir.mkdir(parents=True, exist_ok=True)
    config_file = instance_dir / "config.py"
    if not config_file.exists():
        config_file.write_text(
            "# Generated once by `make run`; keep it secret and back it up with the database:\n"
            "# without ENCRYPTION_KEY the stored two-step secrets cannot be read.\n"
            f"SECRET_KEY = {secrets.token_urlsafe(48)!r}\n"
            f"ENCRYPTION_KEY = {secrets.token_urlsafe(48)!r}\n"
        )
        config_file.chmod(0o600)
    return config_file


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else PROJECT_ROOT / "instance"
    print(f"Instance configuration: {ensure_instance_config(target)}")
