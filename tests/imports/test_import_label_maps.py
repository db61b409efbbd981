"""Reference labels that files carry (SNOMED codes of the PhysioNet/CinC label set, device statement texts)
map onto the default TNMG taxonomy; what maps to nothing is counted in the import report."""

from io import StringIO

import pytest
from django.core.management import call_command

from annotations.models import Exam
from annotations.selectors.imports import reference_label_classes
from annotations.services.imports.exams import exams_import
from tests.importing import DATA, SAMPLE_FILES, use_private_storage

pytestmark = pytest.mark.django_db

MUSE = DATA / "muse-xml/musePHI_muse_ecg1_MAC55_simulator.xml"
PHILIPS_103 = DATA / "philips-xml/129DYPRG_v1.03_heartstartMRx.XML"


@pytest.fixture
def blobs(settings, tmp_path):
    return use_private_storage(settings, tmp_path)


def classes(external_id: str, taxonomy) -> set[str]:
    return {c.code for c in reference_label_classes(Exam.objects.get(external_id=external_id), taxonomy)}


def test_cinc_snomed_codes_with_a_tnmg_statement_map_to_it(blobs, tnmg):
    report = exams_import([SAMPLE_FILES["JS20017"], SAMPLE_FILES["HR06000"]], dataset="cinc")
    assert report.files_failed == 0
    # 164934002 T-wave abnormal, 59931005 T inversion, 164930006 ST interval abnormal -> REPOL_NS;
    # 365413008 poor R progression -> PRWP; 55827005 LV high voltage -> LVH_V.
    assert classes("JS20017", tnmg) == {"SVPB", "ST", "REPOL_NS", "LVH_V", "PRWP", "IVCD"}
    assert classes("HR06000", tnmg) == {"REPOL_NS", "SR"}
    assert report.unmapped_labels() == {}


def test_anterior_ischemia_maps_to_subendocardial_ischemia(blobs, tnmg, tmp_path):
    header = SAMPLE_FILES["HR06000"].read_text().replace("# Dx: 164934002,426783006", "# Dx: 426434006")
    (tmp_path / "HR06000.hea").write_text(header)
    (tmp_path / "HR06000.mat").write_bytes(SAMPLE_FILES["HR06000"].with_suffix(".mat").read_bytes())
    exams_import([tmp_path / "HR06000.hea"], dataset="ischemia")
    assert classes("HR06000", tnmg) == {"SENDO_ISCH"}


def test_device_statements_map_through_the_synonym_table(blobs, tnmg):
    report = exams_import([MUSE, PHILIPS_103, SAMPLE_FILES["dicom"]], dataset="devices")
    assert report.files_failed == 0
    muse = Exam.objects.get(source_format="muse").external_id
    philips = Exam.objects.get(source_format="philips").external_id
    dicom = Exam.objects.get(source_format="dicom").external_id
    assert "PACE" in classes(muse, tnmg)  # "Ventricular-paced rhythm"
    assert {"SB", "IVCD"} <= classes(philips, tnmg)  # "Sinus bradycardia", "Nonspecific intraventricular..."
    assert classes(dicom, tnmg) == {"SR", "NORM"}  # "RITMO SINUSALE", "ECG NORMALE"


def test_crafted_statements_in_device_wording_map(blobs, tnmg, tmp_path):
    lines = ["Sinus bradycardia", "1st degree A-V block", "Left axis deviation", "Wide QRS rhythm"]
    body = "".join(
        f"<DiagnosisStatement><StmtFlag>ENDSLINE</StmtFlag><StmtText>{line}</StmtText></DiagnosisStatement>"
        for line in lines
    )
    text = MUSE.read_text(encoding="iso-8859-1")
    start, end = text.index("<Diagnosis>"), text.index("</Diagnosis>")
    path = tmp_path / "statements.xml"
    path.write_text(text[:start] + f"<Diagnosis>{body}" + text[end:], encoding="iso-8859-1")
    report = exams_import([path], dataset="statements")
    assert classes(Exam.objects.get().external_id, tnmg) == {"SB", "1dAVb", "LAD"}
    assert report.unmapped_labels() == {("statement", "Wide QRS rhythm"): 1}


def test_unmapped_codes_and_texts_are_counted_and_printed_by_the_command(blobs, tnmg, tmp_path):
    header = (
        SAMPLE_FILES["HR06000"].read_text().replace("# Dx: 164934002,426783006", "# Dx: 426783006,251146004")
    )
    (tmp_path / "HR06000.hea").write_text(header)
    (tmp_path / "HR06000.mat").write_bytes(SAMPLE_FILES["HR06000"].with_suffix(".mat").read_bytes())
    out = StringIO()
    call_command("import_exams", str(tmp_path / "HR06000.hea"), "--no-progress", stdout=out, stderr=out)
    assert "1 reference label(s) map to no class of tnmg 2026.6: snomed 251146004 (1 exam)" in out.getvalue()


def test_the_job_page_and_api_list_each_unmapped_label(
    blobs, tnmg, client_for, diego, django_capture_on_commit_callbacks
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from annotations.tasks import imports_run

    client = client_for(diego)
    # A finding no TNMG statement names, in place of the comparison's conclusion the file has there.
    content = MUSE.read_bytes().replace(b"No significant change.", b"Tall T waves in V2-V4")
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(
            "/api/v1/imports/",
            {"dataset": "muse", "files": [SimpleUploadedFile(MUSE.name, content)]},
        )
    assert response.status_code == 201 and len(callbacks) == 1
    job_id = response.json()["id"]
    imports_run.apply(args=(job_id,)).get()
    outcomes = client.get(f"/api/v1/imports/{job_id}/").json()["outcomes"]
    unmapped = [o for o in outcomes if o["outcome"] == "unmapped"]
    assert unmapped == [
        {
            "file": MUSE.name,
            "record": "",
            "outcome": "unmapped",
            "message": "statement 'Tall T waves in V2-V4' (1 exam) maps to no class of tnmg 2026.6",
        }
    ]
    assert MUSE.name in client.get(f"/imports/{job_id}/").content.decode()


PHILIPS_TOUCH = DATA / "philips-xml/3191723_ZZDEMOPTONLY_v1.04_pagewriterTouch.xml"
SCP_SWEDISH = DATA / "scp-ecg/welchallyn_cardiocontrol_20070321_lvh.SCP"


def test_a_hedged_or_swedish_device_statement_maps_to_the_finding_it_names(
    blobs, tnmg, client_for, diego, django_capture_on_commit_callbacks
):
    """A walk found "PROBABLE LEFT VENTRICULAR HYPERTROPHY" (Philips) and the Swedish cart's "sinusrytm",
    "VK-hypertrofi" and "septal infarkt" mapping to no class, so a coordinator filtering exams by their
    reference label missed them. A hedge says how sure the cart is, not which finding; the statement that
    names another cause ("ANTERIOR ST ELEVATION, PROBABLY DUE TO LVH") stays unmapped."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from annotations.tasks import imports_run

    client = client_for(diego)
    files = [SimpleUploadedFile(path.name, path.read_bytes()) for path in (PHILIPS_TOUCH, SCP_SWEDISH)]
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post("/api/v1/imports/", {"dataset": "carts", "files": files})
    assert response.status_code == 201 and len(callbacks) == 1
    job_id = response.json()["id"]
    imports_run.apply(args=(job_id,)).get()
    philips = Exam.objects.get(source_format="philips").external_id
    swedish = Exam.objects.get(source_format="scp").external_id
    assert classes(philips, tnmg) == {"SR", "LVH_RE"}
    assert classes(swedish, tnmg) == {"SR", "LVH_RE", "EIA"}
    unmapped = {
        o["message"]
        for o in client.get(f"/api/v1/imports/{job_id}/").json()["outcomes"]
        if o["outcome"] == "unmapped"
    }
    assert not any("HYPERTROPHY'" in m or "sinusrytm" in m or "VK-hypertrofi" in m for m in unmapped), (
        unmapped
    )
    assert any("PROBABLY DUE TO LVH" in m for m in unmapped), unmapped
