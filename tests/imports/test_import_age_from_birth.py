"""A file that gives the patient's birth date and the exam's date but no age (HL7 aECG from CalECG,
Philips PageWriter) still gives the exam its age: the age is what research exports keep, and with
IDENTIFIERS_POLICY=drop the birth date itself is never stored, so it could not be worked out later.
The expected values are read independently from each file with lxml."""

from __future__ import annotations

import shutil
from datetime import date

import pytest
from lxml import etree

from annotations.models import Exam
from tests.importing import DATA, api_import, use_private_storage

pytestmark = pytest.mark.django_db

CALECG = DATA / "hl7-aecg/cvrg_hl7aecg-Example2_CalECG.xml"
TOUCH = DATA / "philips-xml/3191723_ZZDEMOPTONLY_v1.04_pagewriterTouch.xml"
TC = DATA / "philips-xml/2020-5-18_15-48-11_v1.04.01_pagewriterTC.xml"
HL7 = "{urn:hl7-org:v3}"


def _root(path):
    return etree.parse(str(path), etree.XMLParser(resolve_entities=False, no_network=True)).getroot()


def _years(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def calecg_age() -> int:
    root = _root(CALECG)
    born = root.find(f".//{HL7}subjectDemographicPerson/{HL7}birthTime").get("value")
    taken = root.find(f".//{HL7}effectiveTime/{HL7}low").get("value")
    return _years(
        date(int(born[:4]), int(born[4:6]), int(born[6:8])),
        date(int(taken[:4]), int(taken[4:6]), int(taken[6:8])),
    )


def philips_age(path) -> int:
    root = _root(path)
    ns = root.nsmap.get(None)
    tag = (lambda name: f"{{{ns}}}{name}") if ns else (lambda name: name)
    assert root.find(f".//{tag('patient')}//{tag('years')}") is None  # no age given: only the birth date
    born = date.fromisoformat(root.find(f".//{tag('dateofbirth')}").text)
    return _years(born, date.fromisoformat(root.find(f".//{tag('dataacquisition')}").get("date")))


def _import(client, settings, tmp_path, capture, dataset: str, files) -> None:
    """`files` imported into `dataset` through the API, as a coordinator's folder under the import root."""
    use_private_storage(settings, tmp_path)
    folder = settings.IMPORT_ROOT / f"{dataset}-{tmp_path.name}"
    folder.mkdir(parents=True)
    for path in files:
        shutil.copy(path, folder / path.name)
    try:
        api_import(client, capture, dataset, [folder.name])
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize("policy", ["keep", "drop"])
def test_the_age_is_worked_out_from_the_birth_date_when_the_file_gives_no_age(
    client_for, diego, settings, tmp_path, django_capture_on_commit_callbacks, policy
):
    settings.IDENTIFIERS_POLICY = policy
    client = client_for(diego)
    _import(client, settings, tmp_path, django_capture_on_commit_callbacks, "ages", [CALECG, TOUCH, TC])
    listed = client.get("/api/v1/exams/?dataset=ages").json()["results"]
    exams = {Exam.objects.get(pk=e["id"]).source_record: e for e in listed}
    expected = {CALECG.name: calecg_age(), TOUCH.name: philips_age(TOUCH), TC.name: philips_age(TC)}
    assert expected == {CALECG.name: 32, TOUCH.name: 60, TC.name: 69}
    assert {name: exams[name]["age"] for name in expected} == expected


def test_a_heart_rate_whose_unit_is_misspelt_bmp_is_kept(
    client_for, diego, settings, tmp_path, django_capture_on_commit_callbacks
):
    """CalECG writes MDC_ECG_HEART_RATE with unit "bmp"; read with lxml it says 52."""
    root = _root(CALECG)
    rates = [
        v.get("value")
        for a in root.iter(f"{HL7}annotation")
        if (c := a.find(f"{HL7}code")) is not None and c.get("code") == "MDC_ECG_HEART_RATE"
        for v in [a.find(f"{HL7}value")]
        if v is not None and v.get("unit") == "bmp"
    ]
    assert set(rates) == {"52"}
    client = client_for(diego)
    _import(client, settings, tmp_path, django_capture_on_commit_callbacks, "rate", [CALECG])
    exam = client.get("/api/v1/exams/?dataset=rate").json()["results"][0]
    assert (
        client.get(f"/api/v1/exams/{exam['id']}/").json()["device_measurements"].get("heart_rate_bpm") == 52
    )
