#!/usr/bin/env python3
"""Quick start with nothing but Python 3.11:

    python3 dev.py start   # virtualenv, dependencies, database, demo data, server on http://127.0.0.1:8000
    python3 dev.py test    # virtualenv, dependencies (with dev tools), the whole test suite

Extra arguments after `test` go to pytest; after `start`, `--port N` and `--no-seed`.
Configuration comes from environment variables (see README.md); with none, SQLite and inline tasks.
"""

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("PROMO_VENV", ROOT / ".venv"))
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / "python"


def run(*args: str, **kwargs) -> None:
    print("+", " ".join(args), flush=True)
    subprocess.run(args, check=True, cwd=ROOT, **kwargs)


def ensure_environment(extras: str) -> None:
    """Create the virtualenv and install pinned dependencies once per change of the pins."""
    if sys.version_info[:2] != (3, 11):
        sys.exit(f"Python 3.11 is required (this is {sys.version.split()[0]}).")
    if not PYTHON.exists():
        print(f"Creating virtual environment in {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    fingerprint = hashlib.sha256(
        (ROOT / "pyproject.toml").read_bytes() + (ROOT / "requirements" / "constraints.txt").read_bytes()
        + extras.encode()
    ).hexdigest()
    marker = VENV / ".promoengine-installed"
    if marker.exists() and marker.read_text() == fingerprint:
        return
    target = f".[{extras}]" if extras else "."
    run(str(PYTHON), "-m", "pip", "install", "--disable-pip-version-check", "-q",
        "-c", "requirements/constraints.txt", "-e", target)
    marker.write_text(fingerprint)


def manage(*args: str) -> None:
    run(str(PYTHON), "manage.py", *args)


def start(argv: list[str]) -> None:
    ensure_environment("")
    port = argv[argv.index("--port") + 1] if "--port" in argv else os.environ.get("PORT", "8000")
    manage("migrate", "--noinput")
    if "--no-seed" not in argv:
        manage("seed_demo")
    print(f"\nPromotion engine on http://127.0.0.1:{port}/  (admin: /admin/, API docs: /api/docs)\n", flush=True)
    manage("runserver", f"127.0.0.1:{port}")


def test(argv: list[str]) -> None:
    ensure_environment("dev")
    result = subprocess.run([str(PYTHON), "-m", "pytest", *argv], cwd=ROOT)
    sys.exit(result.returncode)


def main() -> None:
    commands = {"start": start, "test": test}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        sys.exit(__doc__)
    try:
        commands[sys.argv[1]](sys.argv[2:])
    except subprocess.CalledProcessError as exc:
        sys.exit(exc.returncode)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
