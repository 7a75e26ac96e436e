"""The container's entry point and compose file (the image itself is built by .ci/run when Docker runs)."""

import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
ENTRYPOINT = ROOT / "ops" / "docker-entrypoint.sh"


def _run(data_dir: Path, *command: str, **env) -> str:
    environment = {**os.environ, "DATA_DIR": str(data_dir), "PROMETHEUS_MULTIPROC_DIR": str(data_dir / "metrics"),
                   "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    environment.pop("SECRET_KEY", None)
    environment.update(env)
    return subprocess.run([str(ENTRYPOINT), *command], env=environment, check=True, capture_output=True,
                          text=True, timeout=60).stdout.strip()


def test_without_a_secret_key_one_is_made_once_and_shared(tmp_path):
    print_key = ("python", "-c", "import os; print(os.environ['SECRET_KEY'])")
    first = _run(tmp_path, *print_key)
    assert len(first) >= 50
    assert _run(tmp_path, *print_key) == first  # the worker and beat read the same key
    assert (tmp_path / "secret_key").read_text().strip() == first
    assert _run(tmp_path, *print_key, SECRET_KEY="given-key") == "given-key"


def test_compose_starts_the_whole_stack():
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"web", "worker", "beat", "db", "redis"}
    assert services["db"]["image"] == "postgres:15"
    assert [services[name]["command"] for name in ("web", "worker", "beat")] == [["web"], ["worker"], ["beat"]]
    for name in ("worker", "beat"):  # after the web's migrations
        assert services[name]["depends_on"] == {"web": {"condition": "service_healthy"}}
    assert "/readyz" in " ".join(services["web"]["healthcheck"]["test"])
    for name in ("web", "worker", "beat"):
        assert services[name]["environment"]["DATABASE_URL"].endswith("@db:5432/promo")


def test_the_image_runs_as_an_unprivileged_user():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert dockerfile.startswith("#") and "FROM python:3.11-slim" in dockerfile
    assert "\nUSER promo\n" in dockerfile
