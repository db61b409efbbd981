"""A lab's pipeline: a Python client generated from the OpenAPI schema (`make client`) drives a whole study
against the running product, on the two ways it is run (tests/stacks.py), with API tokens.

Each person signs in on the site once to mint their token (tokens are managed with a session only); from
then on every call goes through the generated client with `Authorization: Token <secret>`: the coordinator
uploads a recording and designs a batch for two readers, both read it and disagree, the adjudicator
settles the dispute, the coordinator builds a release, downloads it as one zip and checks SHA256SUMS.
Whatever the client cannot do from the schema alone fails here: the schema is to be fixed, not the walk.
"""

from __future__ import annotations

import csv
import hashlib
import importlib
import io
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from tests.stacks import PASSWORDS, Stack, eventually

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
RECORD = [ROOT / "tests" / "data" / "wfdb" / "ptbdb" / f"s0010_re.{ext}" for ext in ("hea", "dat", "xyz")]
DATASET = "client-ptbdb"
BATCH = "Generated client"
READS = {"ana": "SB", "bruno": "1dAVb"}  # different statements: the exam is disputed on both
DECISIONS = {"SB": True, "1dAVb": False}
PACKAGE = "ecg_review_client"


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """`make client` into a temporary folder, imported: the package the walk drives."""
    folder = tmp_path_factory.mktemp("client")
    started = time.monotonic()
    # -o: the venv is taken as installed (the test runs in it); only the client's own recipe runs.
    made = subprocess.run(
        ["make", "-o", ".venv/.installed", "client", f"CLIENT_DIR={folder}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert made.returncode == 0, made.stdout + made.stderr
    print(f"make client: {time.monotonic() - started:.1f} s", file=sys.stderr)
    project = folder / "ecg-review-client"
    assert (project / PACKAGE / "__init__.py").is_file()
    sys.path.insert(0, str(project))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(project))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def api(operation: str):
    """An operation's module of the generated package, by tag and operation id: "tokens.tokens_create"."""
    return importlib.import_module(f"{PACKAGE}.api.{operation}")


def models():
    return importlib.import_module(f"{PACKAGE}.models")


def ok(endpoint, **arguments):
    """The endpoint called through the generated client: its parsed answer, after a 2xx."""
    answer = endpoint.sync_detailed(**arguments)
    assert 200 <= answer.status_code < 300, (
        f"{endpoint.__name__}: {answer.status_code} {answer.content[:2000]}"
    )
    return answer.parsed


def signed_in_client(client_module, stack: Stack, username: str):
    """The generated client on the person's session, signed in on the login page as a person would: what
    mints their token (a token cannot)."""
    import httpx

    with httpx.Client(base_url=stack.url, timeout=30) as browser:
        browser.get("/accounts/login/")
        form = {"username": username, "password": PASSWORDS[username]}
        form["csrfmiddlewaretoken"] = browser.cookies["csrftoken"]
        answer = browser.post(
            "/accounts/login/", data=form, headers={"Referer": f"{stack.url}/accounts/login/"}
        )
        assert answer.status_code == 302, (answer.status_code, answer.text[:3000])
        cookies = {name: browser.cookies[name] for name in ("sessionid", "csrftoken")}
    return client_module.Client(
        base_url=stack.url, cookies=cookies, headers={"X-CSRFToken": cookies["csrftoken"]}, timeout=30
    )


def token_client(client_module, stack: Stack, username: str, scope: str):
    """The person's token, minted on their session through the client; the client that sends it."""
    session = signed_in_client(client_module, stack, username)
    m = models()
    created = ok(
        api("tokens.tokens_create"),
        client=session,
        body=m.TokenCreate(name=f"{username}'s pipeline", scope=m.ScopeEnum(scope), days=1),
    )
    assert created.scope == m.ScopeEnum(scope) and created.token
    token = client_module.AuthenticatedClient(
        base_url=stack.url, token=created.token, prefix="Token", timeout=60
    )
    me = ok(api("me.me_retrieve"), client=token)
    assert me.username == username
    return token


def import_record(diego) -> int:
    m = models()
    File = importlib.import_module(f"{PACKAGE}.types").File

    files = [File(payload=path.open("rb"), file_name=path.name) for path in RECORD]
    try:
        job = ok(
            api("imports.imports_create"), client=diego, body=m.ImportCreate(dataset=DATASET, files=files)
        )
    finally:
        for file in files:
            file.payload.close()
    job = eventually(
        lambda: (j := ok(api("imports.imports_retrieve"), client=diego, id=job.id)).finished and j,
        timeout=90,
        what="the import job finished",
    )
    assert (job.status, job.created, job.failed, job.error) == ("done", 1, 0, ""), job
    return job.id


def design_batch(diego) -> int:
    m = models()
    taxonomies = ok(api("taxonomies.taxonomies_list"), client=diego).results
    (tnmg,) = [t for t in taxonomies if t.key == "tnmg" and t.superseded_by is None]
    readers = ok(api("users.users_list"), client=diego, role=m.UsersListRole.READER)
    reader_ids = [account.id for account in readers if account.username in READS]
    spec = m.BatchSpec(
        name=BATCH,
        taxonomy_id=tnmg.id,
        reader_ids=reader_ids,
        readers_per_exam=2,
        criteria=m.Criteria(datasets=[DATASET]),
    )
    preview = ok(api("batches.batches_preview_create"), client=diego, body=spec)
    assert (preview.exams, preview.problems) == (1, [])
    created = ok(api("batches.batches_create"), client=diego, body=spec)
    return created.id


def read(reader, batch_id: int, code: str) -> None:
    """The reader's queue in the batch: one exam, read with one statement and submitted."""
    m = models()
    (entry,) = [e for e in ok(api("worklist.worklist_list"), client=reader) if e.batch_id == batch_id]
    assert (entry.total, entry.remaining) == (1, 1)
    first = ok(api("reading.reading_next_retrieve"), client=reader, batch=batch_id).next_assignment_id
    context = ok(api("reading.reading_assignments_retrieve"), client=reader, id=first)
    assert code in {statement.code for group in context.taxonomy.groups for statement in group.classes}
    body = m.Save(labels=[m.Label(code=code)], revision=context.annotation.revision, comment="")
    submitted = ok(api("reading.reading_assignments_submit_create"), client=reader, id=first, body=body)
    assert (submitted.done, submitted.next_assignment_id) == (True, None)


def adjudicate(carla_token, carla_read_only, batch_id: int) -> None:
    """carla's adjudicator token finds, opens and settles the case; her read-only token may look but
    not sign a decision (403)."""
    m = models()

    def listed():  # the agreement is recomputed after the submissions: a worker's task on PostgreSQL
        queue = ok(api("adjudication.v1_adjudication_queue"), client=carla_token)
        return [item for item in queue if item.batch_id == batch_id]

    (item,) = eventually(listed, timeout=90, interval=1, what="the disputed exam in the adjudication queue")
    case = ok(
        api("adjudication.adjudication_retrieve"), client=carla_token, batch_id=batch_id, exam_id=item.exam_id
    )
    assert {d.code for d in case.disputed} == set(DECISIONS)
    body = m.Decide(
        decisions=[m.Decision(code=code, value=value) for code, value in DECISIONS.items()],
        rationale="Sinus bradycardia; PR under 200 ms.",
        version=case.version,
    )
    refused = api("adjudication.adjudication_create").sync_detailed(
        client=carla_read_only, batch_id=batch_id, exam_id=item.exam_id, body=body
    )
    assert refused.status_code == 403 and isinstance(refused.parsed, m.Problem)
    decided = ok(
        api("adjudication.adjudication_create"),
        client=carla_token,
        batch_id=batch_id,
        exam_id=item.exam_id,
        body=body,
    )
    assert {d.code: d.decided_value for d in decided.disputed} == DECISIONS
    assert not [
        i for i in ok(api("adjudication.v1_adjudication_queue"), client=carla_token) if i.batch_id == batch_id
    ]


def release_and_verify(diego, batch_id: int, downloads: Path) -> Path:
    """The release built, downloaded as one zip through the client and checked against SHA256SUMS."""
    m = models()
    created = ok(
        api("releases.releases_create"), client=diego, body=m.ReleaseCreate(batches=[batch_id], name=BATCH)
    )
    release = eventually(
        lambda: (r := ok(api("releases.releases_retrieve"), client=diego, id=created.id)).finished and r,
        timeout=120,
        interval=1,
        what="the release built",
    )
    assert (release.status, release.error) == ("done", ""), release
    archive = ok(api("releases.releases_zip_retrieve"), client=diego, id=release.id)
    with zipfile.ZipFile(io.BytesIO(archive.payload.read())) as opened:
        opened.extractall(downloads)
    (sums,) = downloads.rglob("SHA256SUMS")
    listed = {}
    for line in sums.read_text().splitlines():
        digest, name = line.split(maxsplit=1)
        listed[name.lstrip("*")] = digest
        assert hashlib.sha256((sums.parent / name.lstrip("*")).read_bytes()).hexdigest() == digest, name
    assert len(listed) >= 3
    # The manifest the API gives agrees with the one in the zip, and one file fetched alone with both.
    assert {f.name: f.sha256 for f in release.files if f.name != "SHA256SUMS"} == listed
    one = ok(api("releases.releases_files_retrieve"), client=diego, id=release.id, name="consensus.csv")
    assert hashlib.sha256(one.payload.read()).hexdigest() == listed["consensus.csv"]
    return sums.parent


def test_a_generated_client_drives_a_whole_study_with_tokens(generated, stack, tmp_path):
    started = time.monotonic()
    try:
        diego = token_client(generated, stack, "diego", "coordinator")
        import_record(diego)
        batch_id = design_batch(diego)
        for reader, code in READS.items():
            read(token_client(generated, stack, reader, "reader"), batch_id, code)
        carla = token_client(generated, stack, "carla", "adjudicator")
        adjudicate(carla, token_client(generated, stack, "carla", "read_only"), batch_id)
        folder = release_and_verify(diego, batch_id, tmp_path / "release")
        with (folder / "consensus.csv").open(newline="") as table:
            (row,) = [row for row in csv.DictReader(table) if row["dataset"] == DATASET]
        assert row["exam_id"] == "s0010_re" and row["reads"] == "2"
        assert {code: row[code] for code in DECISIONS} == {"SB": "1", "1dAVb": "0"}  # as adjudicated
        # Every write went through a token: the audit trail says so.
        used = {
            name
            for (name,) in stack.query(
                "SELECT DISTINCT actor_username FROM annotations_auditevent WHERE action = 'api_token.use'"
            )
        }
        assert used == {"diego", "ana", "bruno", "carla"}
    except Exception:
        print(stack.log_tail(), file=sys.stderr)
        raise
    print(f"{stack.name}: the client's walk took {time.monotonic() - started:.1f} s", file=sys.stderr)
