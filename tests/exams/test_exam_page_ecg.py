"""The coordinator's exam page draws the ECG (from a coordinator-only waveform download, in the readers'
wire format) and lists the labels that came with the exam; a reader's work never appears on it."""

from __future__ import annotations

import gzip

import pytest

from annotations.models import Assignment, ReferenceLabel
from annotations.services.reading import LabelInput, annotation_submit
from tests.factories import batch_for, make_exam

pytestmark = pytest.mark.django_db
MARKER = "MARKER-reader-comment-on-the-exam-page"


@pytest.fixture
def exam():
    exam = make_exam(external_id="E-1", age=63, sex="M")
    ReferenceLabel.objects.create(
        exam=exam, code_system="code15", code="1dAVb", likelihood=0.87, source="device"
    )
    ReferenceLabel.objects.create(exam=exam, code_system="snomed", code="164889003", source="registry")
    return exam


def waveform_url(exam) -> str:
    return f"/api/v1/exams/{exam.pk}/waveform/"


def test_the_exam_page_has_the_ecg_with_the_viewers_tools_and_the_reference_labels(client_for, diego, exam):
    page = client_for(diego).get(f"/exams/{exam.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert f'data-waveform-url="{waveform_url(exam)}"' in html
    for tool in ('id="layout"', 'id="speed"', 'id="gain"', 'id="caliper-toggle"', 'id="rhythm-lead"'):
        assert tool in html
    assert "js/pages/exam.js" in html
    labels = page.context["reference_labels"]
    assert [(label.code_system, label.code, label.likelihood, label.source) for label in labels] == [
        ("code15", "1dAVb", 0.87, "device"),
        ("snomed", "164889003", None, "registry"),
    ]
    assert 'id="reference-labels"' in html and "164889003" in html and "registry" in html
    assert 'id="quality-report"' in html and 'id="exam-batches"' in html


def test_the_exam_page_shows_no_readers_label(client_for, diego, ana, tnmg, exam):
    batch = batch_for(tnmg, diego, [ana], [exam], name="Read")
    assignment = Assignment.objects.get(batch=batch, reader=ana)
    annotation_submit(
        actor=ana, assignment=assignment, labels=[LabelInput("LBBB")], comment=MARKER, revision=0
    )
    html = client_for(diego).get(f"/exams/{exam.pk}/").content.decode()
    assert MARKER not in html and "LBBB" not in html


def test_the_waveform_download_is_the_readers_wire_format_and_is_cached(client_for, diego, exam):
    client = client_for(diego)
    response = client.get(waveform_url(exam), HTTP_ACCEPT_ENCODING="gzip")
    assert response.status_code == 200
    assert response["Content-Encoding"] == "gzip"
    assert len(gzip.decompress(response.content)) == 2 * len(exam.lead_names) * exam.n_samples
    assert response["X-ECG-Sampling-Rate"] == "500"
    assert response["X-ECG-Leads"] == ",".join(exam.lead_names)
    assert response["X-ECG-Samples"] == str(exam.n_samples)
    assert response["Cache-Control"] == "private, max-age=3600"
    assert exam.waveform_sha256 not in response["ETag"]
    again = client.get(waveform_url(exam), HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304
    plain = client.get(waveform_url(exam))
    assert len(plain.content) == 2 * len(exam.lead_names) * exam.n_samples


def test_only_coordinators_download_the_waveform(client, client_for, ana, carla, eve, diego, exam):
    assert client.get(waveform_url(exam)).status_code == 403  # anonymous: the API's own answer
    for user in (ana, carla, eve):
        assert client_for(user).get(waveform_url(exam)).status_code == 403
    assert client_for(diego).get(f"/api/v1/exams/{exam.pk + 1000}/waveform/").status_code == 404
    assert client_for(diego).post(waveform_url(exam)).status_code == 405


def test_the_exam_page_shows_the_models_scalar_outputs_with_their_uncertainty(client_for, diego, exam):
    """A regression model's outputs (potassium, ECG age) are stored per exam; the coordinator sees each
    with its unit and standard deviation, under the provider and version that computed it."""
    from annotations.models import Suggestion

    Suggestion.objects.create(
        exam=exam,
        provider="electrolytes",
        provider_version="onnx-3f2a",
        measurements={
            "scalars": {
                "potassium": {"value": 4.62, "unit": "mmol/L", "sd": 0.31},
                "ecg_age": {"value": 57.4, "unit": "years", "sd": None},
            }
        },
    )
    Suggestion.objects.create(exam=exam, provider="rules", provider_version="1", measurements={"hr": 60})
    page = client_for(diego).get(f"/exams/{exam.pk}/").content.decode()
    section = page[page.index('id="model-outputs"') :]
    assert "electrolytes" in section and "onnx-3f2a" in section
    assert "potassium" in section and "4.62" in section and "± 0.31" in section and "mmol/L" in section
    assert "ecg_age" in section and "57.4" in section and "years" in section
    assert "rules" not in section.split("</section>")[0]  # no scalars: not listed
