"""Settings come from the environment and refuse values they cannot understand."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = (
    "import json, django; from django.conf import settings; django.setup(); "
    "db = settings.DATABASES['default']; "
    "print(json.dumps({'engine': db['ENGINE'], 'name': str(db['NAME']), 'debug': settings.DEBUG, "
    "'eager': settings.CELERY_TASK_ALWAYS_EAGER, 'cache': settings.CACHES['default']['BACKEND'], "
    "'waveforms': settings.STORAGES['waveforms']['BACKEND'], 'policy': settings.IDENTIFIERS_POLICY}))"
)


def load_settings(tmp_path, **variables):
    """Import the real settings in a fresh interpreter with only the given variables set."""
    return fresh_interpreter(tmp_path, PROBE, **variables)


def fresh_interpreter(tmp_path, code: str, **variables):
    """Run `code` in a new interpreter with the project's settings and only the given variables set."""
    environ = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "ecgreview.settings",
        "VAR_DIR": str(tmp_path),
        **variables,
    }
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=environ, capture_output=True, text=True, timeout=60
    )


def test_with_nothing_configured_but_debug_the_app_uses_sqlite_under_var_and_runs_tasks_in_process(tmp_path):
    result = load_settings(tmp_path, DEBUG="1")
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout)
    assert loaded["engine"] == "django.db.backends.sqlite3"
    assert loaded["name"] == str(tmp_path / "db.sqlite3")
    assert loaded["eager"] is True
    assert loaded["cache"].endswith("LocMemCache")
    assert loaded["waveforms"].endswith("FileSystemStorage")
    assert loaded["policy"] == "drop"


def test_a_database_and_redis_url_switch_to_postgres_redis_and_real_workers(tmp_path):
    result = load_settings(
        tmp_path, DEBUG="1", DATABASE_URL="postgres://u@db:5432/ecg", REDIS_URL="redis://cache:6379/0"
    )
    loaded = json.loads(result.stdout)
    assert loaded["engine"] == "django.db.backends.postgresql"
    assert loaded["name"] == "ecg"
    assert loaded["eager"] is False
    assert loaded["cache"].endswith("RedisCache")


def test_an_s3_waveform_url_selects_a_working_s3_backend_with_bucket_and_prefix(tmp_path):
    script = (
        "import django; django.setup(); from django.core.files.storage import storages; "
        "s = storages['waveforms']; print(type(s).__name__, s.bucket_name, s.location, s.endpoint_url)"
    )
    environ = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "ecgreview.settings",
        "DEBUG": "1",
        "VAR_DIR": str(tmp_path),
        "WAVEFORM_STORAGE_URL": "s3://ecg-bucket/waveforms",
        "AWS_S3_ENDPOINT_URL": "http://127.0.0.1:9000",
    }
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=environ, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["S3Storage", "ecg-bucket", "waveforms", "http://127.0.0.1:9000"]


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"DEBUG": "ture"}, "DEBUG='ture' is not a boolean"),
        ({"DEBUG": "0"}, "SECRET_KEY must be set when DEBUG is off"),
        ({"DEBUG": "0", "SECRET_KEY": "short"}, "SECRET_KEY must be at least 50 characters"),
        ({"DEBUG": "0", "SECRET_KEY": "k" * 60}, "ALLOWED_HOSTS must list the host names"),
        ({"DEBUG": "1", "DATABASE_URL": "mysql://x@y/z"}, "DATABASE_URL scheme 'mysql' is not supported"),
        (
            {"DEBUG": "1", "REDIS_URL": "amqp://guest@rabbit//"},
            "REDIS_URL must be a redis:// or rediss:// URL",
        ),
        ({"DEBUG": "1", "IDENTIFIERS_POLICY": "share"}, "IDENTIFIERS_POLICY='share' must be one of"),
        ({"DEBUG": "1", "SESSION_IDLE_MINUTES": "ten"}, "SESSION_IDLE_MINUTES='ten' is not an integer"),
        ({"DEBUG": "1", "SESSION_IDLE_MINUTES": "0"}, "SESSION_IDLE_MINUTES=0 is below its minimum of 1"),
        ({"DEBUG": "1", "WAVEFORM_STORAGE_URL": "ftp://x/y"}, "WAVEFORM_STORAGE_URL scheme 'ftp'"),
        # file://var/waveforms names the host "var": the samples would go to /waveforms.
        (
            {"DEBUG": "1", "WAVEFORM_STORAGE_URL": "file://var/waveforms"},
            "WAVEFORM_STORAGE_URL file:// needs",
        ),
        ({"DEBUG": "1", "WAVEFORM_STORAGE_URL": "file://"}, "WAVEFORM_STORAGE_URL file:// needs"),
        (
            {"DEBUG": "1", "WAVEFORM_STORAGE_URL": "s3:///waveforms"},
            "WAVEFORM_STORAGE_URL s3:// needs a bucket",
        ),
        ({"DEBUG": "1", "LOG_LEVEL": "LOUD"}, "LOG_LEVEL='LOUD' must be one of"),
        ({"DEBUG": "1", "TRUSTED_PROXY_HOPS": "-1"}, "TRUSTED_PROXY_HOPS=-1 is below its minimum of 0"),
        (
            {"DEBUG": "1", "TRUSTED_PROXY_HOPS": "1", "TRUSTED_PROXIES": "10.0.0.1"},
            "set TRUSTED_PROXIES or TRUSTED_PROXY_HOPS, not both",
        ),
        ({"DEBUG": "1", "BEHIND_TLS_PROXY": "1"}, "TRUSTED_PROXIES or TRUSTED_PROXY_HOPS"),
    ],
)
def test_a_bad_value_stops_the_process_with_a_message_naming_the_variable(tmp_path, variables, message):
    result = load_settings(tmp_path, **variables)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr


def test_every_variable_the_settings_read_is_documented_in_env_example():
    import re

    settings_source = (ROOT / "ecgreview" / "settings.py").read_text()
    read = set(re.findall(r'env\.\w+\(\s*"([A-Z0-9_]+)"', settings_source))
    documented = set(re.findall(r"^#?\s*([A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M))
    assert read, "the pattern found no variables: the test would pass vacuously"
    assert read - documented == set()


@pytest.mark.parametrize(
    "first",
    ["rest_framework.views", "rest_framework.schemas", "drf_spectacular.openapi", "ecgreview.urls"],
)
def test_the_api_settings_resolve_whatever_is_imported_first(tmp_path, first):
    """DRF reads the permission and schema classes the settings name while its own modules are still being
    imported; a class whose module imports DRF or drf-spectacular back would be half made then (a worker
    importing rest_framework.views first failed to boot)."""
    probe = (
        "import importlib, django; django.setup(); "
        f"importlib.import_module({first!r}); "
        "from rest_framework.settings import api_settings; "
        "print(api_settings.DEFAULT_PERMISSION_CLASSES, api_settings.DEFAULT_SCHEMA_CLASS)"
    )
    result = fresh_interpreter(tmp_path, probe, DEBUG="1")
    assert result.returncode == 0, result.stderr[-2000:]


def test_a_relative_var_dir_is_taken_from_the_project_folder_not_from_where_the_process_starts(tmp_path):
    """VAR_DIR=./var crashed every process (a file URI needs an absolute path), and would otherwise have
    moved with the working directory of each command."""
    probe = (
        "import json, django; from django.conf import settings; django.setup(); "
        "db = settings.DATABASES['default']; "
        "print(json.dumps({'var': str(settings.VAR_DIR), 'name': str(db['NAME'])}))"
    )
    result = fresh_interpreter(tmp_path, probe, DEBUG="1", VAR_DIR="./var-relative-probe")
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout)
    assert loaded["var"] == str(ROOT / "var-relative-probe")
    assert loaded["name"] == str(ROOT / "var-relative-probe" / "db.sqlite3")
    shutil.rmtree(ROOT / "var-relative-probe", ignore_errors=True)


def test_the_env_example_leaves_var_dir_to_the_image():
    """docker-compose reads .env for every service: a VAR_DIR there would move the data out of the
    image's volume (/var/lib/ecgreview) into the container's own, lost at the next upgrade."""
    lines = (ROOT / ".env.example").read_text().splitlines()
    assert not [line for line in lines if line.startswith("VAR_DIR=")]
    assert any(line.startswith("# VAR_DIR=") for line in lines)


@pytest.mark.parametrize(
    "value,said",
    [
        ('{"class": "annotations.lib.providers.quality.QualityProvider"}', "a JSON list"),
        ("annotations.nope.Nope", "no module annotations.nope"),
        ('["annotations.lib.providers.nowhere.Provider"]', "no module annotations.lib.providers.nowhere"),
    ],
)
def test_a_suggestion_provider_that_cannot_exist_stops_the_process(tmp_path, value, said):
    """Caught at start, not as a task's traceback in a worker's log once a batch is created."""
    result = load_settings(tmp_path, DEBUG="1", SUGGESTION_PROVIDERS=value)
    assert result.returncode != 0
    assert "SUGGESTION_PROVIDERS" in result.stderr and said in result.stderr


# What a process has imported once it is ready to serve: the URLs resolved (which imports every view),
# the Celery app with its tasks, and the admin. The signal and file-format libraries are imported by
# the code that filters a signal or reads a file, so a web process, a worker or a manage command does
# not pay their 2-3 s at every start (the embedded default starts one per command). h5py, a tenth of a
# second, is left to the release and CODE file modules that use it throughout.
READY_PROBE = (
    "import json, sys, django; django.setup(); from django.urls import get_resolver; "
    "get_resolver().url_patterns; import ecgreview.celery, annotations.tasks; "
    "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
    "{'scipy', 'pandas', 'wfdb', 'pydicom', 'neurokit2', 'onnxruntime', 'sklearn'})))"
)


def test_a_process_ready_to_serve_has_not_imported_the_signal_and_file_libraries(tmp_path):
    result = fresh_interpreter(tmp_path, READY_PROBE, DEBUG="1")
    assert result.returncode == 0, result.stderr
    heavy = json.loads(result.stdout.strip().splitlines()[-1])
    assert {name.split(".")[0] for name in heavy} == set(), heavy


# A web server's process (gunicorn and runserver both load ecgreview.wsgi) then opens an exam for a
# reader: its median beat is filtered, as the reading context does for the first exam of every worker.
SERVE_PROBE = (
    "import json, sys; import ecgreview.wsgi; "
    "from annotations.lib.ecg.synthetic import synthetic_ecg; "
    "from annotations.lib.ecg.median_beat import median_beat; "
    "signals, _ = synthetic_ecg(heart_rate_bpm=70, rr_jitter=0.03, noise_uv=15, seed=1); "
    "before = set(sys.modules); beat = median_beat(signals, 500.0); "
    "print(json.dumps({'beat': beat is not None, 'imported': sorted(set(sys.modules) - before)}))"
)


def test_a_web_process_has_its_signal_filters_before_the_first_reader_opens_an_exam(tmp_path):
    """Imported lazily for a command's sake, scipy was paid by the first reader of every web worker after
    each restart: 2.5 s on their first exam's reading context. The web entry point pays it at start."""
    result = fresh_interpreter(tmp_path, SERVE_PROBE, DEBUG="1")
    assert result.returncode == 0, result.stderr
    served = json.loads(result.stdout.strip().splitlines()[-1])
    assert served["beat"] is True
    assert [name for name in served["imported"] if name.split(".")[0] == "scipy"] == []


URLS_PROBE = (
    "import json, sys; import ecgreview.wsgi; from django.urls import get_resolver; "
    "before = set(sys.modules); get_resolver().url_patterns; "
    "print(json.dumps(sorted(m for m in set(sys.modules) - before if m.startswith('annotations.'))))"
)


def test_a_web_process_has_its_views_loaded_before_its_first_request(tmp_path):
    """The URL conf imports every view, serializer and selector: 1.4 s on a 2-core machine, which the
    first request of every web worker waited after each restart (an adjudication case took 2.0 s as a
    process's first request, 0.13 s after). The web entry point pays it at start."""
    result = fresh_interpreter(tmp_path, URLS_PROBE, DEBUG="1")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


JIT_PROBE = (
    "import django; django.setup(); from django.db import connection; "
    "cursor = connection.cursor(); cursor.execute('SHOW jit'); print(cursor.fetchone()[0])"
)


def _server_url() -> str:
    """The suite's PostgreSQL server, at its maintenance database: SHOW needs a connection, no tables."""
    from urllib.parse import urlparse

    return urlparse(os.environ["DATABASE_URL"])._replace(path="/postgres").geturl()


def test_the_app_connects_to_postgres_with_jit_off_whatever_the_server_default(tmp_path):
    # A hospital's own server keeps PostgreSQL's default (jit on); the coordinator's large one-off reads
    # are measured with it off (docs/scaling.md), so the app asks for that on its own connections.
    result = fresh_interpreter(tmp_path, JIT_PROBE, DEBUG="1", DATABASE_URL=_server_url())
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "off"


def test_database_jit_on_leaves_the_server_setting_and_other_url_options_are_kept(tmp_path):
    on = fresh_interpreter(tmp_path, JIT_PROBE, DEBUG="1", DATABASE_URL=_server_url(), DATABASE_JIT="1")
    assert on.returncode == 0, on.stderr
    server_default = subprocess.run(
        ["psql", _server_url(), "-Atc", "SHOW jit"], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert on.stdout.strip() == server_default
    probe = JIT_PROBE.replace("SHOW jit", "SHOW statement_timeout")
    url = _server_url() + "?options=-c%20statement_timeout%3D12345"
    kept = fresh_interpreter(tmp_path, probe, DEBUG="1", DATABASE_URL=url)
    assert kept.returncode == 0, kept.stderr
    assert kept.stdout.strip() == "12345ms"
    both = fresh_interpreter(tmp_path, JIT_PROBE, DEBUG="1", DATABASE_URL=url)
    assert both.stdout.strip() == "off"


def test_a_database_jit_value_that_is_not_a_boolean_stops_the_process(tmp_path):
    result = load_settings(tmp_path, DEBUG="1", DATABASE_URL="postgres://u@db:5432/ecg", DATABASE_JIT="maybe")
    assert result.returncode != 0
    assert "DATABASE_JIT='maybe' is not a boolean" in result.stderr


PREPARED_PROBE = (
    "import django; django.setup(); from django.db import connection; connection.ensure_connection(); "
    "print(connection.connection.prepare_threshold)"
)


def test_the_app_lets_its_hot_queries_be_prepared_and_an_operator_can_turn_that_off(tmp_path):
    # The driver prepares only what the app asks it to (selectors/reading/prepared.py): Django's own
    # cursors bind on the client and never prepare, so the threshold is never reached by them.
    on = fresh_interpreter(tmp_path, PREPARED_PROBE, DEBUG="1", DATABASE_URL=_server_url())
    assert on.returncode == 0, on.stderr
    assert int(on.stdout) >= 2**31 - 1
    off = fresh_interpreter(
        tmp_path, PREPARED_PROBE, DEBUG="1", DATABASE_URL=_server_url(), DATABASE_PREPARED_STATEMENTS="0"
    )
    assert off.returncode == 0, off.stderr
    assert off.stdout.strip() == "None"
    refused = fresh_interpreter(
        tmp_path, PREPARED_PROBE, DEBUG="1", DATABASE_URL=_server_url(), DATABASE_PREPARED_STATEMENTS="often"
    )
    assert refused.returncode != 0
    assert "DATABASE_PREPARED_STATEMENTS='often' is not a boolean" in refused.stderr
