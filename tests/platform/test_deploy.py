"""Production configuration: check --deploy, docker-compose.yml and the Dockerfile."""

import importlib
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def production_environ(tmp_path, **extra):
    return {
        "PATH": os.environ["PATH"],
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "ALLOWED_HOSTS": "ecg.example.org",
        "VAR_DIR": str(tmp_path),
        **extra,
    }


def check_deploy(environ):
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return result, set(re.findall(r"\(([\w.]+\.[WE]\d+)\)", result.stdout + result.stderr))


def test_check_deploy_reports_only_the_documented_local_https_warnings(tmp_path):
    result, issues = check_deploy(production_environ(tmp_path))
    assert result.returncode == 0, result.stderr
    assert issues == {"security.W004", "security.W008"}
    guide = (ROOT / "docs" / "operations.md").read_text()  # the operator's page names both
    assert "security.W004" in guide and "security.W008" in guide


def test_check_deploy_is_clean_when_https_is_served_end_to_end(tmp_path):
    environ = production_environ(
        tmp_path, SECURE_SSL_REDIRECT="1", SECURE_HSTS_SECONDS="31536000", SECURE_HSTS_PRELOAD="1"
    )
    result, issues = check_deploy(environ)
    assert result.returncode == 0, result.stderr
    assert issues == set()


def compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_runs_postgres_redis_web_workers_and_beat_with_healthchecks_and_volumes():
    services = compose()["services"]
    assert {"postgres", "redis", "web", "worker", "worker-models", "beat"} <= set(services)
    for name in ("postgres", "redis", "web", "worker", "worker-models", "beat"):
        assert "healthcheck" in services[name], name
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["redis"]["image"].startswith("redis:")
    assert set(compose()["volumes"]) == {"pgdata", "redisdata", "appdata"}
    assert "pgdata:/var/lib/postgresql/data" in services["postgres"]["volumes"]


def test_compose_runs_postgres_with_jit_off_as_the_scaling_guide_recommends():
    """The batch designer's large queries paid about 1 s of JIT compilation each and gained nothing
    (docs/scaling.md); the server the compose file starts follows that advice."""
    command = compose()["services"]["postgres"]["command"]
    assert command[0] == "postgres"
    settings = dict(command[i + 1].split("=", 1) for i, word in enumerate(command) if word == "-c")
    assert settings["jit"] == "off"


def test_compose_commands_name_real_modules_and_queues():
    services = compose()["services"]
    web = services["web"]["command"]
    assert web[0] == "gunicorn"
    module, attribute = web[1].split(":")
    assert callable(getattr(importlib.import_module(module), attribute))
    from django.conf import settings

    queues = {"default"} | {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()}
    for name in ("worker", "worker-models", "beat"):
        command = services[name]["command"]
        assert command[:3] == ["celery", "-A", "ecgreview"], name
        app = importlib.import_module(command[2]).celery_app
        assert app.main == "ecgreview"
        if "--queues" in command:
            assert command[command.index("--queues") + 1] in queues
    migrate = services["migrate"]["command"][-1]
    from django.core.management import get_commands

    for used in re.findall(r"manage\.py (\w+)", migrate):
        assert used in get_commands(), used


def test_compose_wires_the_app_to_its_database_broker_and_storage():
    web = compose()["services"]["web"]
    environment = web["environment"]
    assert (
        environment["DATABASE_URL"].startswith("postgres://")
        and "@postgres:5432/" in environment["DATABASE_URL"]
    )
    assert environment["REDIS_URL"] == "redis://redis:6379/0"
    assert "appdata:/var/lib/ecgreview" in web["volumes"]
    assert web["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_the_dockerfile_installs_the_pinned_requirements_and_copies_every_package():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "pip install -r requirements.txt" in dockerfile
    for folder in ("ecgreview", "annotations", "templates", "static"):
        assert f"COPY {folder} ./{folder}" in dockerfile
    assert re.search(r"^FROM python:3\.1[2-9]", dockerfile, re.M)
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            assert "==" in line, f"unpinned requirement: {line}"


def test_the_gpu_image_swaps_in_onnxruntime_gpu_at_the_pinned_version():
    """The GPU build of onnxruntime installs the same module name: the Dockerfile removes the CPU one and
    installs the GPU one at the version requirements.txt pins, and refuses any other value."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "ARG ONNXRUNTIME=onnxruntime" in dockerfile
    step = dockerfile[dockerfile.index('RUN if [ "$ONNXRUNTIME"') :].split("\n\n")[0]
    assert "sed -n 's/^onnxruntime==//p' requirements.txt" in step
    assert step.index("pip uninstall -y onnxruntime") < step.index(
        'pip install "onnxruntime-gpu[cuda,cudnn]==$version"'
    )
    assert "exit 1" in step
    pinned = [
        line
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.startswith("onnxruntime")
    ]
    assert len(pinned) == 1 and pinned[0].startswith("onnxruntime==")
    script = step.removeprefix("RUN ").replace("\\\n", "")  # as Docker joins continued lines
    for value, expected in (("onnxruntime", 0), ("tensorflow", 1)):
        result = subprocess.run(
            ["sh", "-c", script],
            cwd=ROOT,
            env={"ONNXRUNTIME": value, "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert result.returncode == expected, result.stderr


def test_the_image_has_the_postgresql_client_backup_runs():
    """manage.py backup runs pg_dump; the slim Python image has none, and a client older than the server
    refuses to dump it: bookworm's postgresql-client is 15, as the compose file's server."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "apt-get install -y --no-install-recommends postgresql-client" in dockerfile
    assert "bookworm" in dockerfile.splitlines()[1]
    assert compose()["services"]["postgres"]["image"] == "postgres:15"


def test_the_web_healthcheck_passes_against_the_app_as_configured(live_server, settings):
    """The healthcheck asked for http://127.0.0.1:8000/ under that Host, which ALLOWED_HOSTS refuses
    (400), and would have followed SECURE_SSL_REDIRECT's redirect to https: it could never pass. Run here
    against a live server, with the port the compose file names replaced by the test server's."""
    command = compose()["services"]["web"]["healthcheck"]["test"]
    assert command[:3] == ["CMD", "python", "-c"]
    port = live_server.url.rsplit(":", 1)[1]
    script = command[3].replace("8000", port)
    settings.ALLOWED_HOSTS = ["ecg.example.org"]
    env = {"PATH": os.environ["PATH"], "ALLOWED_HOSTS": "ecg.example.org,other.example.org"}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    settings.ALLOWED_HOSTS = ["elsewhere.example.org"]
    refused = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=30
    )
    assert refused.returncode == 1  # a Host the app refuses is a failed check, not a pass


def test_the_images_static_files_live_outside_the_data_volume(tmp_path):
    """collectstatic runs at build time; a named volume on VAR_DIR is filled from the image only once, so
    static files under it would stay those of the first version after every upgrade."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    static_root = re.search(r"STATIC_ROOT=(\S+)", dockerfile).group(1)
    var_dir = re.search(r"VAR_DIR=(\S+)", dockerfile).group(1)
    mounts = [v.split(":")[1] for v in compose()["services"]["web"]["volumes"]]
    assert not any(static_root.startswith(m) for m in mounts) and not static_root.startswith(var_dir)
    probe = "import django; from django.conf import settings; django.setup(); print(settings.STATIC_ROOT)"
    env = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "ecgreview.settings",
        "DEBUG": "1",
        "VAR_DIR": str(tmp_path / "var"),
        "STATIC_ROOT": str(tmp_path / "static"),
    }
    shown = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert shown.stdout.strip() == str(tmp_path / "static"), shown.stderr


def test_the_env_example_asks_for_the_database_password_compose_needs():
    """docker-compose.yml refuses to start without POSTGRES_PASSWORD; copying .env.example gave no hint."""
    lines = (ROOT / ".env.example").read_text().splitlines()
    assert "POSTGRES_PASSWORD=" in lines
    assert "${POSTGRES_PASSWORD:?" in (ROOT / "docker-compose.yml").read_text()
