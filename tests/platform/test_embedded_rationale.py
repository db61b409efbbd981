"""The rationale and the cart-against-model comparison on the embedded SQLite default, as `make run` serves
them: a rule-based provider's suggestion computed and stored there, a two-stage reader who gets neither
before the blind read and both after it, through the same API the page uses."""

from __future__ import annotations

from tests.platform.test_embedded_default import on_the_demo

WALK_SCRIPT = """
import json
import django
django.setup()
from django.contrib.auth import get_user_model
from django.test import Client
from annotations.models import Assignment, Exam, Taxonomy
from annotations.services.suggestions import suggestion_compute
from tests.factories import batch_for
from tests.reading.helpers import ref
from tests.suggestions.test_suggestion_rationale import ReasonedProvider

users = get_user_model().objects
ana = users.get(username="ana")
exam = Exam.objects.order_by("pk").last()
Exam.objects.filter(pk=exam.pk).update(device_measurements={"qrs_ms": 75, "pr_ms": 161})
stored = suggestion_compute(exam.pk, ReasonedProvider())
tnmg = Taxonomy.objects.get(key="tnmg", is_default=True)
batch = batch_for(tnmg, users.get(username="diego"), [ana], [exam], name="Rationale on SQLite",
                  suggestion_mode="two_stage", device_measurements_shown=True)
anas = Assignment.objects.get(batch=batch, reader=ana)
client = Client(HTTP_HOST="localhost")
client.force_login(ana)
url = f"/api/v1/reading/assignments/{ref(anas)}/"
before = client.get(url)
page = client.get(f"/read/{ref(anas)}/")
after = client.post(url + "submit/", {"labels": [{"code": "NORM", "uncertain": False}], "revision": 0},
                    content_type="application/json").json()
context = after["context"]
print(json.dumps({
    "stored": stored.measurements["_scoring"]["rationale"],
    "before": before.json()["suggestion"], "before_median": before.json()["median"],
    "leaked": "4.1 mV" in before.content.decode() + page.content.decode(),
    "after": {s["code"]: s["rationale"] for s in context["suggestion"]["scores"]},
    "qrs": context["median"]["differences"].get("qrs_ms"),
}))
"""


def test_a_two_stage_reader_gets_the_rationale_and_the_comparison_after_the_blind_read_on_sqlite(tmp_path):
    seen = on_the_demo(tmp_path, WALK_SCRIPT)
    sokolow = {
        "criterion": "Sokolow-Lyon voltage",
        "source": "Sokolow & Lyon 1949; AHA/ACCF/HRS 2009 part V",
        "finding": "S V1 1.6 + R V5 2.5 = 4.1 mV",
    }
    assert seen["stored"]["LVH_V"] == sokolow
    assert (seen["before"], seen["before_median"], seen["leaked"]) == (None, None, False)
    assert seen["after"]["LVH_V"] == sokolow and seen["after"]["SB"] is None
    assert seen["qrs"] == {"difference": 73.0, "tolerance": 10, "exceeds": True}
