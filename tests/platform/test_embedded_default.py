"""The laptop path of `make run`: with nothing configured the schema and demo work on SQLite."""

import atexit
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from statistics import quantiles

import pytest

ROOT = Path(__file__).resolve().parents[2]


def manage(tmp_path, *args):
    environ = {"PATH": os.environ["PATH"], "DEBUG": "1", "VAR_DIR": str(tmp_path)}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
    )


MAKE_RUN_SETUP = (["migrate", "--no-input"], ["load_taxonomy", "--shipped"], ["seed_demo"])
_demo_made: list[Path] = []


def demo_var_dir() -> Path:
    """A var folder on which `make run`'s set-up commands have run, made once per test process.

    The three commands take 20-30 s together; each test that only needs their result gets a copy of this
    folder (database, waveforms, static files) rather than running them again. The copy is the same
    bytes the commands wrote. test_migrate_taxonomy_and_demo_run_on_the_embedded_sqlite_default runs
    them itself, in its own folder."""
    if not _demo_made:
        folder = Path(tempfile.mkdtemp(prefix="ecgreview-demo-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        for command in MAKE_RUN_SETUP:
            result = manage(folder, *command)
            assert result.returncode == 0, result.stderr[-4000:]
        _demo_made.append(folder)
    return _demo_made[0]


def on_the_demo(tmp_path, script: str, *args: str) -> dict:
    """`make run`'s demo set up under tmp_path (a copy of demo_var_dir), then `script` run in a Django
    process of its own on it: what the script printed last, as JSON."""
    shutil.copytree(demo_var_dir(), tmp_path, dirs_exist_ok=True)
    environ = {"PATH": os.environ["PATH"], "DEBUG": "1", "VAR_DIR": str(tmp_path)}
    environ["DJANGO_SETTINGS_MODULE"] = "ecgreview.settings"
    result = subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_migrate_taxonomy_and_demo_run_on_the_embedded_sqlite_default(tmp_path):
    for command in MAKE_RUN_SETUP:
        result = manage(tmp_path, *command)
        assert result.returncode == 0, result.stderr
        # Celery runs the demo's tasks in-process; it must not warn the operator about a broker the laptop
        # does not have (kombu guessed "localhost" for its producer pool and said so).
        assert "No hostname was supplied" not in result.stderr + result.stdout
    assert "Log in as" in result.stdout
    database = sqlite3.connect(tmp_path / "db.sqlite3")
    (classes,) = database.execute(
        "SELECT count(*) FROM annotations_diagnosticclass c JOIN annotations_taxonomy t "
        "ON c.taxonomy_id = t.id WHERE t.key = 'tnmg'"
    ).fetchone()
    assert classes == 74  # TNMG 2026: the 73 statements of 2020 and sinus rhythm
    (assignments,) = database.execute("SELECT count(*) FROM annotations_assignment").fetchone()
    assert assignments > 0
    blobs = list((tmp_path / "waveforms").rglob("*.npy"))
    (exams,) = database.execute("SELECT count(DISTINCT waveform_sha256) FROM annotations_exam").fetchone()
    assert len(blobs) == exams


def test_the_audit_table_is_append_only_on_sqlite_too(tmp_path):
    assert manage(tmp_path, "migrate", "--no-input").returncode == 0
    database = sqlite3.connect(tmp_path / "db.sqlite3")
    database.execute(
        "INSERT INTO annotations_auditevent (occurred_at, actor_username, action, target_type, "
        "target_id) VALUES ('2026-01-01', '', 'x', '', '')"
    )
    for statement in ("UPDATE annotations_auditevent SET action = 'y'", "DELETE FROM annotations_auditevent"):
        try:
            database.execute(statement)
        except sqlite3.IntegrityError as error:
            assert "append-only" in str(error)
        else:
            raise AssertionError(f"{statement} was allowed")


# Readers submit through the API, the coordinator builds a release on the Releases page and downloads
# its zip; all in one process on the embedded default, as `make run` serves it.
RELEASE_SCRIPT = """
import json, sys, time
import django
django.setup()
from tests.reading.helpers import ref
from django.contrib.auth import get_user_model
from django.test import Client
from annotations.models import AgreementResult, Assignment, Release, ReviewBatch

User = get_user_model()
batch = ReviewBatch.objects.get(name="Demo batch")
codes = {"ana": ["NORM"], "bruno": ["RBBB"]}
clients = {}
for assignment in Assignment.objects.filter(batch=batch).select_related("reader").order_by("position"):
    name = assignment.reader.username
    if name not in clients:
        clients[name] = Client(HTTP_HOST="localhost")
        clients[name].force_login(assignment.reader)
    response = clients[name].post(
        f"/api/v1/reading/assignments/{ref(assignment)}/submit/",
        {"labels": [{"code": c, "uncertain": False} for c in codes[name]], "revision": 0},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
deadline = time.monotonic() + 120
while not AgreementResult.objects.filter(batch=batch, read_count__gt=0).exists():
    assert time.monotonic() < deadline, "agreement never computed"
    time.sleep(0.2)
coordinator = Client(HTTP_HOST="localhost")
coordinator.force_login(User.objects.get(username="diego"))
response = coordinator.post("/releases/", {"batches": [batch.pk], "hdf5": "on", "name": "laptop"})
assert response.status_code == 302, response.content.decode()[:2000]
release = Release.objects.get(name="laptop")
while release.status not in (Release.Status.DONE, Release.Status.FAILED):
    assert time.monotonic() < deadline, "release never finished"
    time.sleep(0.2)
    release.refresh_from_db()
assert release.status == Release.Status.DONE, release.error
page = coordinator.get(f"/releases/{release.pk}/").content.decode()
assert "release-%d.zip" % release.pk in page or "/zip" in page
archive = coordinator.get(f"/releases/{release.pk}/zip")
assert archive.status_code == 200, archive.status_code
with open(sys.argv[1], "wb") as handle:
    for chunk in archive.streaming_content:
        handle.write(chunk)
print(json.dumps({"release": release.pk, "batch": batch.pk, "exams": release.exam_count}))
"""


def test_export_labels_and_a_release_build_work_on_the_embedded_sqlite_default(tmp_path):
    built = on_the_demo(tmp_path, RELEASE_SCRIPT, str(tmp_path / "release.zip"))
    assert built["exams"] > 0
    unpacked = tmp_path / "unpacked"
    zipfile.ZipFile(tmp_path / "release.zip").extractall(unpacked)
    folder = unpacked / f"release-{built['release']}"
    check = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=folder, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    out = tmp_path / "export"
    exported = manage(
        tmp_path, "export_labels", "--batch", str(built["batch"]), "--out", str(out), "--no-progress"
    )
    assert exported.returncode == 0, exported.stderr[-4000:]
    check = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=out, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    # The same state and options: the command's data files are the release's, byte for byte.
    for name in ("consensus.csv", "consensus.jsonl", "reads.csv", "suggestions.csv", "tracings.hdf5"):
        assert (out / name).read_bytes() == (folder / name).read_bytes(), name


# A submit on the embedded default returns before the agreement recomputation it triggers: that runs on
# an in-process background thread (its own database connection), coalesced per batch.
SUBMIT_SCRIPT = """
import json, threading
import django
django.setup()
from tests.reading.helpers import ref
from django.conf import settings
from django.test import Client
from annotations.models import AgreementResult, Assignment, ReviewBatch
from annotations.services.agreement import compute as agreement

batch = ReviewBatch.objects.get(name="Demo batch")
calls, responded = [], threading.Event()
real_compute = agreement.batch_agreement_compute

def compute(batch_id):
    # Inside the request this would wait for a response that cannot come first, and record False.
    calls.append({"after_response": responded.wait(20), "thread": threading.current_thread().name})
    return real_compute(batch_id)

agreement.batch_agreement_compute = compute
clients = {}

def submit(assignment):
    name = assignment.reader.username
    if name not in clients:
        clients[name] = Client(HTTP_HOST="localhost")
        clients[name].force_login(assignment.reader)
    response = clients[name].post(
        f"/api/v1/reading/assignments/{ref(assignment)}/submit/",
        {"labels": [{"code": "NORM", "uncertain": False}], "revision": 0},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content

slots = Assignment.objects.filter(batch=batch).select_related("reader")
slots = list(slots.order_by("reader_id", "position"))
settings.AGREEMENT_RECOMPUTE_DELAY_S = 0
submit(slots[0])
responded.set()
from ecgreview.inprocess import background
background.drain()
first = list(calls)
# A burst within the delay costs one recomputation, which sees every read of the burst.
settings.AGREEMENT_RECOMPUTE_DELAY_S = 30
for slot in slots[1:4]:
    submit(slot)
during = len(calls)
background.drain()
result = AgreementResult.objects.get(batch=batch)
seen = {"first": first, "during_burst": during - 1, "after": len(calls), "reads": result.read_count}
print(json.dumps(seen))
"""


def test_a_submit_on_the_embedded_default_does_not_wait_for_the_agreement_recomputation(tmp_path):
    seen = on_the_demo(tmp_path, SUBMIT_SCRIPT)
    assert len(seen["first"]) == 1
    assert seen["first"][0]["after_response"] is True
    assert seen["first"][0]["thread"] != "MainThread"
    assert seen["during_burst"] == 0
    assert seen["after"] == 2 and seen["reads"] == 4


# An upload on the embedded default answers at once: the import runs on the web process's background
# thread, as a worker would run it, and the job page's poller follows its progress; before, eager Celery
# ran the whole import inside the upload request, and the page only ever showed it finished.
IMPORT_SCRIPT = """
import json, sys, threading
import django
django.setup()
from django.contrib.auth import get_user_model
from django.test import Client
from annotations.models import ImportJob
from annotations.services.imports import jobs
from ecgreview.inprocess import background

responded = threading.Event()
calls = []
real_import = jobs.exams_import

def exams_import(*args, **kwargs):
    calls.append({"after_response": responded.wait(20), "thread": threading.current_thread().name})
    return real_import(*args, **kwargs)

jobs.exams_import = exams_import
coordinator = Client(HTTP_HOST="localhost")
coordinator.force_login(get_user_model().objects.get(username="diego"))
with open(sys.argv[1], "rb") as upload:
    response = coordinator.post("/imports/", {"files": [upload], "dataset": "laptop", "amplitude_scale": "1"})
assert response.status_code == 302, response.content
job = ImportJob.objects.latest("id")
while_running = coordinator.get(f"/imports/{job.pk}/progress/").json()
responded.set()
background.drain()
job.refresh_from_db()
after = coordinator.get(f"/imports/{job.pk}/progress/").json()
print(json.dumps({"calls": calls, "while_running": while_running, "after": after}))
"""


def test_an_upload_on_the_embedded_default_imports_after_the_response_with_live_progress(tmp_path):
    record = ROOT / "tests/data/cpsc2018/A1986.mat"
    seen = on_the_demo(tmp_path, IMPORT_SCRIPT, str(record))
    assert len(seen["calls"]) == 1
    assert seen["calls"][0] == {"after_response": True, "thread": "ecgreview-background"}
    assert seen["while_running"]["finished"] is False
    assert seen["while_running"]["status"] in {"queued", "running"}
    assert seen["after"]["finished"] is True and seen["after"]["status"] == "done"
    assert (seen["after"]["created"], seen["after"]["done"], seen["after"]["total"]) == (1, 1, 1)


# A laptop's web process killed mid-import (power, kill -9) leaves its job running, or queued, with no
# worker to deliver it again; the next `make run` finishes it before it serves (manage.py resume_jobs).
LEFT_BEHIND_SCRIPT = """
import json, shutil, sys
import django
django.setup()
from django.conf import settings
from django.contrib.auth import get_user_model
from annotations.models import ImportJob
folder = settings.IMPORT_ROOT / "uploads" / "left"
folder.mkdir(parents=True)
shutil.copy(sys.argv[1], folder)
diego = get_user_model().objects.get(username="diego")
job = ImportJob.objects.create(
    coordinator=diego, dataset_name="left", paths=["uploads/left"], status="running"
)
print(json.dumps({"job": job.pk}))
"""


def test_the_next_start_finishes_an_import_the_last_process_left_running(tmp_path):
    record = ROOT / "tests/data/cpsc2018/A1986.mat"
    left = on_the_demo(tmp_path, LEFT_BEHIND_SCRIPT, str(record))
    result = manage(tmp_path, "resume_jobs")
    assert result.returncode == 0, result.stderr
    assert f"import #{left['job']} resumed" in result.stdout
    database = sqlite3.connect(tmp_path / "db.sqlite3")
    status, created = database.execute(
        "SELECT status, created FROM annotations_importjob WHERE id = ?", (left["job"],)
    ).fetchone()
    assert (status, created) == ("done", 1)
    again = manage(tmp_path, "resume_jobs")  # nothing left: nothing done twice
    assert again.returncode == 0 and "nothing to resume" in again.stdout
    run_target = (ROOT / "Makefile").read_text().split("\nrun:", 1)[1].split("\n\n", 1)[0]
    assert run_target.index("resume_jobs") < run_target.index("runserver")  # `make run` does it first


# The designer's pool and adding exams to a running batch take their SQLite branches on the embedded
# default (no id ranges, no COPY): a batch of a seeded sample, then a seeded sample of what it lacks,
# then the lists of batches count it.
ADD_EXAMS_SCRIPT = """
import json, random
import django
django.setup()
from django.contrib.auth import get_user_model
from django.test import Client
from annotations.models import BatchExam, Exam, Taxonomy

users = get_user_model().objects
client = Client(HTTP_HOST="localhost")
client.force_login(users.get(username="diego"))
pool = sorted(Exam.objects.values_list("pk", flat=True))
body = {
    "name": "Embedded add", "taxonomy_id": Taxonomy.objects.get(is_default=True).pk,
    "reader_ids": [users.get(username="ana").pk, users.get(username="bruno").pk],
    "readers_per_exam": 2, "sample_size": 3, "seed": 4,
    # ana and bruno hold every demo exam in the demo batch: reading them again needs a reason.
    "exclude_seen": False, "independence_off_reason": "the demo exams read again",
}
preview = client.post("/api/v1/batches/preview/", body, content_type="application/json")
created = client.post("/api/v1/batches/", body, content_type="application/json")
assert created.status_code == 201, created.content
batch_id = created.json()["id"]
held = sorted(BatchExam.objects.filter(batch_id=batch_id).values_list("exam_id", flat=True))
added = client.post(
    f"/api/v1/batches/{batch_id}/exams/", {"sample_size": 2, "seed": 9}, content_type="application/json"
)
assert added.status_code == 201, added.content
after = sorted(BatchExam.objects.filter(batch_id=batch_id).values_list("exam_id", flat=True))
lacking = [pk for pk in pool if pk not in held]
listed = {row["id"]: row for row in client.get("/api/v1/batches/").json()}[batch_id]
print(json.dumps({
    "matching": preview.json()["matching"], "pool": len(pool), "held": held,
    "added": sorted(set(after) - set(held)), "expected": sorted(random.Random(9).sample(lacking, 2)),
    "slots": added.json(), "listed": [listed["exam_count"], listed["read_count"], listed["reads_done"]],
    "pages": [client.get(path).status_code for path in ("/batches/", "/")],
}))
"""


# Every read of the demo batch submitted (ana: SR on each exam, bruno: SR and 1dAVb on some), the
# agreement recomputed on the background thread, then the suggestion evidence page asked for, and the
# API it polls followed until the background thread has computed its figures.
EVIDENCE_SCRIPT = """
import json
import django
django.setup()
from tests.reading.helpers import ref
from django.conf import settings
from django.test import Client
from annotations.models import Assignment, ReviewBatch
from ecgreview.inprocess import background

settings.AGREEMENT_RECOMPUTE_DELAY_S = 0
batch = ReviewBatch.objects.get(name="Demo batch")
clients = {}
for index, slot in enumerate(Assignment.objects.filter(batch=batch).select_related("reader").order_by("id")):
    reader = slot.reader.username
    if reader not in clients:
        clients[reader] = Client(HTTP_HOST="localhost")
        clients[reader].force_login(slot.reader)
    codes = ["SR", "1dAVb"] if reader == "bruno" and index % 3 == 0 else ["SR"]
    response = clients[reader].post(
        f"/api/v1/reading/assignments/{ref(slot)}/submit/",
        {"labels": [{"code": c, "uncertain": False} for c in codes], "revision": 0},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
background.drain()
diego = Client(HTTP_HOST="localhost")
diego.force_login(batch.created_by)
page = diego.get(f"/batches/{batch.pk}/evidence/")
background.drain()
answer = diego.get(f"/api/v1/batches/{batch.pk}/evidence/").json()
print(json.dumps({"page": page.status_code, "state": answer["state"], "providers": answer["providers"],
                  "consensus_rows": answer["consensus_rows"]}))
"""


def test_the_suggestion_evidence_is_computed_on_the_embedded_default(tmp_path):
    """The page asks the background thread for its figures, which it computed with PostgreSQL-only SQL
    on SQLite: it failed there, and the page said "the worker is computing" for ever."""
    seen = on_the_demo(tmp_path, EVIDENCE_SCRIPT)
    assert seen["page"] == 200
    assert seen["state"] == "ready", seen
    assert seen["consensus_rows"] > 0 and seen["providers"], seen


def test_a_batch_is_designed_and_takes_more_exams_on_the_embedded_default(tmp_path):
    seen = on_the_demo(tmp_path, ADD_EXAMS_SCRIPT)
    assert seen["matching"] == seen["pool"] and len(seen["held"]) == 3
    assert seen["added"] == seen["expected"]
    kept_back = seen["slots"].pop("kept_back")
    assert seen["slots"].pop("poor_left_out") == {"exams": 0, "flags": {}}  # the demo has no poor signal
    assert seen["slots"] == {"added": 2, "exams": 5, "copies_left_out": 0} and kept_back["exams"] == 0
    # The lists of batches count it with SQLite too: 5 exams x 2 readers, none read yet.
    assert seen["listed"] == [5, 10, 0] and seen["pages"] == [200, 200]


def test_resume_jobs_leaves_a_broker_deployment_to_its_workers(db):
    from io import StringIO

    from django.core.management import call_command

    from annotations.models import ImportJob
    from tests.factories import UserFactory

    job = ImportJob.objects.create(coordinator=UserFactory(), dataset_name="w", paths=[], status="running")
    out = StringIO()
    call_command("resume_jobs", stdout=out)  # the suite runs with a broker, as a hospital deployment does
    assert "a broker is configured" in out.getvalue()
    job.refresh_from_db()
    assert job.status == "running"  # a worker holds it, or will have it delivered again


# The reader's lock query is built once per process and its columns converted as Django converts them: on
# SQLite, datetimes come back as text, so a read after a suggestion was shown must still carry a datetime.
SHOWN_SCRIPT = """
import json
import django
django.setup()
from tests.reading.helpers import ref
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone
from annotations.models import Annotation, Assignment, Suggestion, SuggestionExposure
from annotations.selectors.reading.refs import assignment_ref

API = "/api/v1/reading/assignments"
User = get_user_model()
ana, bruno = User.objects.get(username="ana"), User.objects.get(username="bruno")
mine = Assignment.objects.filter(reader=ana, status="pending", batch__status="active")
mine = list(mine.order_by("batch_id", "position"))
first, second = mine[0], next(a for a in mine[1:] if a.batch_id == mine[0].batch_id)
suggestion = Suggestion.objects.create(exam=first.exam, provider="demo-model", provider_version="1")
shown_at = timezone.now().replace(microsecond=123000)
SuggestionExposure.objects.create(
    assignment=first, suggestion=suggestion, reader=ana, stage="revised", mode="shown", shown_at=shown_at
)
client = Client(HTTP_HOST="localhost")
client.force_login(ana)
read = {"labels": [{"code": "NORM", "uncertain": False}], "revision": 0}
answer = client.post(f"{API}/{assignment_ref(first.pk)}/submit/", read, content_type="application/json")
stored = Annotation.objects.get(assignment=first)
brunos = Assignment.objects.filter(reader=bruno).first().pk
other = client.post(f"{API}/{assignment_ref(brunos)}/submit/", read, content_type="application/json")
print(json.dumps({
    "status": answer.status_code, "next": answer.json().get("next_assignment_id"),
    "expected_next": assignment_ref(second.pk),
    "stage": stored.stage, "shown_at_matches": stored.suggestion_shown_at == shown_at,
    "other_reader": other.status_code,
}))
"""


def test_a_read_after_a_shown_suggestion_is_not_blind_on_the_embedded_default(tmp_path):
    seen = on_the_demo(tmp_path, SHOWN_SCRIPT)
    assert seen["status"] == 200 and seen["next"] == seen["expected_next"]
    assert seen["stage"] == "revised" and seen["shown_at_matches"] is True
    assert seen["other_reader"] == 404


# Ids no column holds, sent to the coordinator's API on SQLite, whose driver raises OverflowError for them.
HUGE_IDS_SCRIPT = """
import json
import django
django.setup()
from django.contrib.auth import get_user_model
from django.test import Client
from annotations.models import Taxonomy

users = get_user_model().objects
client = Client(HTTP_HOST="localhost")
client.force_login(users.get(username="diego"))
huge = 2**63
design = {"name": "Huge", "taxonomy_id": Taxonomy.objects.get(is_default=True).pk,
          "reader_ids": [users.get(username="ana").pk], "readers_per_exam": 1}
answers = [
    client.post(url, body, content_type="application/json").status_code
    for url, body in (
        ("/api/v1/batches/preview/", {**design, "reader_ids": [huge]}),
        ("/api/v1/batches/", {**design, "reader_ids": [huge]}),
        ("/api/v1/batches/preview/", {**design, "taxonomy_id": huge}),
        ("/api/v1/releases/", {"batches": [huge]}),
    )
]
print(json.dumps(answers))
"""


def test_ids_no_column_holds_are_bad_input_on_the_embedded_default(tmp_path):
    assert on_the_demo(tmp_path, HUGE_IDS_SCRIPT) == [400, 400, 400, 400]


# CODE-15%'s exams.csv uploaded after its HDF5 part, on SQLite (the ORM path of the label rows).
CODE_METADATA_SCRIPT = """
import json, sys
import django
django.setup()
from django.contrib.auth import get_user_model
from django.test import Client
from annotations.models import Exam, ImportJob
from ecgreview.inprocess import background

coordinator = Client(HTTP_HOST="localhost")
coordinator.force_login(get_user_model().objects.get(username="diego"))

def upload(*paths):
    files = [open(path, "rb") for path in paths]
    response = coordinator.post("/imports/", {"files": files, "dataset": "code15", "amplitude_scale": "1"})
    assert response.status_code == 302, response.content
    background.drain()
    return coordinator.get(f"/imports/{ImportJob.objects.latest('id').pk}/progress/").json()

alone = upload(sys.argv[1])
both = upload(sys.argv[1], sys.argv[2])
exam = Exam.objects.get(dataset__name="code15", external_id="501")
print(json.dumps({
    "alone": alone["created"],
    "both": [alone["created"], both["unchanged"]],
    "exam": [exam.age, exam.sex, exam.patient_pseudo_id, exam.reference_codes],
    "labels": sorted(exam.reference_labels.values_list("code", flat=True)),
    "said": {row["record"]: row["message"] for row in both["outcomes"] if row["outcome"] == "unchanged"},
    "metadata": [row["message"] for row in both["outcomes"] if row["outcome"] == "metadata"],
}))
"""


def test_exams_csv_uploaded_after_its_part_fills_in_the_exams_on_the_embedded_default(tmp_path):
    from tests.importing import write_code15, write_exams_csv

    part, _ = write_code15(tmp_path, exams=[(501, 4096), (502, 4000)])
    table = write_exams_csv(
        tmp_path / "exams.csv",
        [{"exam_id": 501, "age": 64, "is_male": "False", "RBBB": "1", "patient_id": "9"}],
    )
    seen = on_the_demo(tmp_path / "var", CODE_METADATA_SCRIPT, str(part), str(table))
    assert seen["both"] == [2, 2]
    assert seen["exam"] == [64, "F", "9", "\ncode15:RBBB\n"] and seen["labels"] == ["RBBB"]
    assert seen["said"] == {"501": "filled in: age, sex, patient, 1 reference label", "502": ""}
    assert seen["metadata"] == [
        "read as the metadata of exams_part0.hdf5: age, sex, patient and labels for 1 of its 2 records"
    ]


# The carts' measurements on SQLite: uploaded through the Imports page, on the exam API, in a release.
DEVICE_SCRIPT = """
import json, sys
import django
django.setup()
from django.contrib.auth import get_user_model
from django.test import Client
from annotations.models import Assignment, Exam, Release, Taxonomy
from ecgreview.inprocess import background
from tests.exporting import read
from tests.factories import batch_for
from tests.reading.helpers import ref

users = get_user_model().objects
coordinator = Client(HTTP_HOST="localhost")
coordinator.force_login(users.get(username="diego"))
files = [open(path, "rb") for path in sys.argv[1:]]
response = coordinator.post("/imports/", {"files": files, "dataset": "carts", "amplitude_scale": "1"})
assert response.status_code == 302, response.content
background.drain()
exams = list(Exam.objects.filter(dataset__name="carts").order_by("source_record"))
shown = {e.source_record.split()[0]: coordinator.get(f"/api/v1/exams/{e.pk}/").json()["device_measurements"]
         for e in exams}
reader = users.get(username="ana")
# One cart file holds a demo exam's waveform, which ana holds in the demo batch: independence off.
tnmg = Taxonomy.objects.get(key="tnmg", is_default=True)
batch = batch_for(tnmg, users.get(username="diego"), [reader], exams, name="Carts on SQLite",
                  device_measurements_shown=True, again=True)
reading = Client(HTTP_HOST="localhost")
reading.force_login(reader)
read_with = {a.exam.source_record.split()[0]: reading.get(f"/api/v1/reading/assignments/{ref(a)}/").json()
             ["exam"]["device_measurements"] for a in Assignment.objects.filter(batch=batch)}
for exam in exams:
    read(reader, batch, exam, ["SB"])
created = coordinator.post("/api/v1/releases/", {"batches": [batch.pk], "hdf5": False},
                           content_type="application/json")
assert created.status_code == 201, created.content
background.drain()
release = Release.objects.get(pk=created.json()["id"])
table = b"".join(coordinator.get(f"/releases/{release.pk}/files/device_measurements.csv").streaming_content)
card = coordinator.get(f"/releases/{release.pk}/files/dataset_card.json")
card = json.loads(b"".join(card.streaming_content))
print(json.dumps({"shown": shown, "read_with": read_with, "status": release.status,
                  "table": table.decode().splitlines(), "card": card["batches"][0]["readers_were_shown"]}))
"""


def test_the_carts_measurements_go_from_upload_to_reader_and_release_on_the_embedded_default(tmp_path):
    from tests.importing import DATA

    dicom, muse = DATA / "dicom/waveform_ecg.dcm", DATA / "muse-xml/musePHI_muse_ecg1_MAC55_simulator.xml"
    seen = on_the_demo(tmp_path / "var", DEVICE_SCRIPT, str(dicom), str(muse))
    assert seen["shown"]["waveform_ecg.dcm"]["rr_ms"] == 982
    assert seen["shown"][muse.name]["qtc_fridericia_ms"] == 364
    # A batch designed to show them hands them to its reader with the exam, and its release says so.
    assert seen["read_with"] == seen["shown"]
    assert seen["card"] == {
        "suggestions": "hidden",
        "earlier_ecgs": False,
        "device_measurements": True,
        "blind_measurements": "cart",
    }
    assert seen["status"] == "done"
    header, *rows = seen["table"]
    assert header.startswith("row,dataset,exam_id,heart_rate_bpm,atrial_rate_bpm,rr_ms,pr_ms")
    assert len(rows) == 2 and any(",982,161,75,368,370," in row for row in rows), rows


# The demo offers serial comparison as the reader meets it: one demo patient has an earlier ECG, outside the
# batch, which the reading API lists for that exam only and serves when the reader opens it.
DEMO_PRIORS_SCRIPT = """
import json
import django
django.setup()
from django.contrib.auth import get_user_model
from django.test import Client
from annotations.models import Assignment, Exam
from annotations.selectors.reading.refs import assignment_ref

API = "/api/v1/reading/assignments"
ana = get_user_model().objects.get(username="ana")
client = Client(HTTP_HOST="localhost")
client.force_login(ana)
offered = {}
for slot in Assignment.objects.filter(reader=ana).select_related("exam"):
    context = client.get(f"{API}/{assignment_ref(slot.pk)}/").json()
    offered[slot.exam.external_id] = context["priors"]
earlier = [p for priors in offered.values() for p in priors]
waveform = client.get(earlier[0]["waveform_url"]) if earlier else None
batch_exams = set(Assignment.objects.values_list("exam__external_id", flat=True))
print(json.dumps({
    "offered": {k: [p["acquired_on"] for p in v] for k, v in offered.items() if v},
    "waveform": [waveform.status_code, len(waveform.content)] if waveform else None,
    "earlier_in_a_batch": sorted(set(Exam.objects.values_list("external_id", flat=True)) & batch_exams
                                  - set(offered)),
}))
"""


def test_the_demo_offers_a_patients_earlier_ecg_on_the_embedded_default(tmp_path):
    seen = on_the_demo(tmp_path, DEMO_PRIORS_SCRIPT)
    assert seen["offered"] == {"demo-0004": ["2024-09-02"]}
    status, size = seen["waveform"]
    assert status == 200 and size > 10_000
    assert seen["earlier_in_a_batch"] == []


# The dashboard's times on task come from the slots on SQLite too (selectors.batches.progress reads them
# there one column per reader, and by binary COPY on PostgreSQL).
TIMES_SCRIPT = """
import json
import django
django.setup()
from django.contrib.auth import get_user_model
from django.test import Client
from annotations.models import Assignment, ReviewBatch
from tests.reading.helpers import ref

batch = ReviewBatch.objects.get(name="Demo batch")
pending = Assignment.objects.filter(batch=batch, status="pending").select_related("reader")
reader = pending.order_by("reader_id", "position").first().reader
reading = Client(HTTP_HOST="localhost")
reading.force_login(reader)
for slot, seconds in zip(pending.filter(reader=reader).order_by("position")[:2], (12, 30)):
    response = reading.post(
        f"/api/v1/reading/assignments/{ref(slot)}/submit/",
        {"labels": [{"code": "NORM", "uncertain": False}], "time_on_task_ms": seconds * 1000, "revision": 0},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
coordinator = Client(HTTP_HOST="localhost")
coordinator.force_login(get_user_model().objects.get(username="diego"))
progress = coordinator.get(f"/batches/{batch.pk}/progress.json").json()
row = next(r for r in progress["readers"] if r["username"] == reader.username)
timed = list(Assignment.objects.filter(batch=batch, reader=reader, time_on_task_ms__isnull=False)
             .order_by("position").values_list("time_on_task_ms", flat=True))
quartiles = [row["q1_seconds"], row["median_seconds"], row["q3_seconds"]]
print(json.dumps({"timed": timed, "quartiles": quartiles}))
"""


def test_the_dashboards_times_on_task_come_from_the_submits_on_the_embedded_default(tmp_path):
    seen = on_the_demo(tmp_path, TIMES_SCRIPT)
    # The demo's own reads were written by seed_demo's submits, with times of their own, before these.
    assert seen["timed"][-2:] == [12_000, 30_000]
    seconds = [ms / 1000 for ms in seen["timed"]]
    expected = quantiles(seconds, n=4, method="inclusive") if len(seconds) > 1 else seconds * 3
    assert seen["quartiles"] == pytest.approx(expected)


# A write that waits past SQLite's busy timeout (another writer, say an import on the background thread,
# holds the database) used to surface as "OperationalError: database is locked": a traceback page under
# make run's DEBUG, a 500 otherwise. The script holds the write lock itself, with the timeout cut to 1 s.
BUSY_SCRIPT = """
import json, sqlite3, time
import django
django.setup()
from django.conf import settings
from django.db import connections
from django.test import Client
from annotations.models import Assignment
from tests.reading.helpers import ref

connections["default"].settings_dict["OPTIONS"]["timeout"] = 1
slot = Assignment.objects.filter(reader__username="ana", status="pending").order_by("position").first()
reader = Client(HTTP_HOST="localhost")
reader.force_login(slot.reader)
url = f"/api/v1/reading/assignments/{ref(slot)}/submit/"
body = {"labels": [{"code": "NORM", "uncertain": False}], "revision": 0}
holder = sqlite3.connect(settings.DATABASES["default"]["NAME"], isolation_level=None)
holder.execute("BEGIN IMMEDIATE")
started = time.monotonic()
english = reader.post(url, body, content_type="application/json")
waited = time.monotonic() - started
portuguese = reader.post(url, body, content_type="application/json", HTTP_ACCEPT_LANGUAGE="pt-BR")
page = Client(HTTP_HOST="localhost").post(
    "/accounts/login/", {"username": "diego", "password": "diego-coordinates"}, HTTP_ACCEPT_LANGUAGE="pt-BR"
)
holder.execute("ROLLBACK")
after = reader.post(url, body, content_type="application/json")
slot.refresh_from_db()
print(json.dumps({
    "english": [english.status_code, english.json(), english.headers.get("Retry-After")],
    "waited": waited,
    "portuguese": [portuguese.status_code, portuguese.json()],
    "page": [page.status_code, page.content.decode()],
    "after": [after.status_code, slot.status],
}))
"""


def test_a_write_the_busy_embedded_database_cannot_take_is_refused_with_a_503_that_says_why(tmp_path):
    seen = on_the_demo(tmp_path, BUSY_SCRIPT)
    status, body, retry_after = seen["english"]
    assert status == 503 and retry_after == "60"
    assert body["detail"] == (
        "The embedded database is busy: another write (an import, a release build or a recomputation) has "
        "held it for more than 1 s, so this request could not write. Try again in a minute. A site with "
        "several users should run on PostgreSQL."
    )
    assert seen["waited"] >= 1
    status, body = seen["portuguese"]
    assert status == 503 and body["detail"].startswith("O banco de dados embutido está ocupado")
    status, page = seen["page"]
    assert status == 503 and "O banco de dados embutido está ocupado" in page and "Traceback" not in page
    # Once the other write is done, the same submit goes through.
    assert seen["after"] == [200, "submitted"]
