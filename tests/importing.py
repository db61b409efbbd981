"""Helpers shared by the importer tests: sample paths, a private waveform folder, synthetic files."""

from __future__ import annotations

import base64
import csv
from pathlib import Path

import h5py
import numpy as np

from annotations.lib.ecg.synthetic import synthetic_ecg

DATA = Path(__file__).resolve().parent / "data"
HOSTILE = DATA / "hostile"
SAMPLE_FILES = {
    "s0010_re": DATA / "wfdb/ptbdb/s0010_re.hea",
    "00001_lr": DATA / "wfdb/ptbxl/00001_lr.hea",
    "HR06000": DATA / "wfdb/cinc2021/HR06000.hea",
    "E07500": DATA / "wfdb/cinc2021/E07500.hea",
    "JS20000": DATA / "wfdb/cinc2021/JS20000.hea",
    "JS20017": DATA / "wfdb/cinc2021/JS20017.hea",
    "A1986": DATA / "cpsc2018/A1986.mat",
    "aecg": DATA / "hl7-aecg/Example_aECG.xml",
    "dicom": DATA / "dicom/waveform_ecg.dcm",
}


def use_private_storage(settings, tmp_path: Path) -> Path:
    """Point waveform storage and the import root at this test's own folders; return the blob folder."""
    folder = tmp_path / "waveforms"
    settings.STORAGES = {
        **settings.STORAGES,
        "waveforms": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(folder), "allow_overwrite": True},
        },
    }
    settings.IMPORT_ROOT = tmp_path / "imports"
    settings.IMPORT_ROOT.mkdir()
    return folder


def blob_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def einthoven_residual(signals_mv: np.ndarray) -> float:
    """RMS(II - I - III) / RMS(II)."""
    residual = signals_mv[1] - signals_mv[0] - signals_mv[2]
    return float(np.sqrt(np.mean(residual**2)) / np.sqrt(np.mean(signals_mv[1] ** 2)))


def write_code15(
    folder: Path, *, exams: list[tuple[int, int]], zero_ids=(), name="exams_part0.hdf5", scale: float = 1.0
) -> tuple[Path, dict[int, np.ndarray]]:
    """A CODE-15%-shaped file: (exam_id, true length in samples) each, centred in 4096 zero-padded samples.

    Returns the path and each exam's unpadded signal (leads x samples, mV, before `scale`).
    """
    tracings = np.zeros((len(exams) + len(zero_ids), 4096, 12), dtype=np.float32)
    truth: dict[int, np.ndarray] = {}
    ids = []
    for index, (exam_id, length) in enumerate(exams):
        signals, _ = synthetic_ecg(
            heart_rate_bpm=60 + index, sampling_rate=400, duration_s=length / 400, noise_uv=10, seed=exam_id
        )
        start = (4096 - length) // 2
        tracings[index, start : start + length, :] = (signals.T * scale).astype(np.float32)
        truth[exam_id] = signals.astype(np.float32).astype(np.float64)
        ids.append(exam_id)
    ids.extend(zero_ids)
    path = folder / name
    with h5py.File(path, "w") as handle:
        handle.create_dataset("tracings", data=tracings)
        handle.create_dataset("exam_id", data=np.asarray(ids, dtype=np.int64))
    return path, truth


def write_exams_csv(path: Path, rows: list[dict]) -> Path:
    columns = [
        "exam_id",
        "age",
        "is_male",
        "nn_predicted_age",
        "1dAVb",
        "RBBB",
        "LBBB",
        "SB",
        "ST",
        "AF",
        "patient_id",
        "death",
        "timey",
        "normal_ecg",
        "trace_file",
    ]
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({column: row.get(column, "") for column in columns})
    return path


MUSE_LEADS = ("I", "II", "V1", "V2", "V3", "V4", "V5", "V6")


def write_muse(path: Path, *, seed: int = 1, units_per_bit: float = 4.88) -> dict[str, np.ndarray]:
    """A small synthetic GE MUSE XML (8 stored leads, Rhythm and Median); returns the stored integers."""
    signals, _ = synthetic_ecg(heart_rate_bpm=75, sampling_rate=500, duration_s=10, seed=seed)
    index = {"I": 0, "II": 1, "V1": 6, "V2": 7, "V3": 8, "V4": 9, "V5": 10, "V6": 11}
    stored = {lead: np.rint(signals[index[lead]] * 1000 / units_per_bit).astype("<i2") for lead in MUSE_LEADS}

    def waveform(kind: str, count: int) -> str:
        leads = "".join(
            f"<LeadData><LeadByteCountTotal>{2 * count}</LeadByteCountTotal><LeadSampleCountTotal>{count}"
            f"</LeadSampleCountTotal><LeadAmplitudeUnitsPerBit>{units_per_bit}</LeadAmplitudeUnitsPerBit>"
            f"<LeadAmplitudeUnits>MICROVOLTS</LeadAmplitudeUnits><LeadID>{lead}</LeadID>"
            f"<WaveFormData>{base64.b64encode(stored[lead][:count].tobytes()).decode()}</WaveFormData>"
            f"</LeadData>"
            for lead in MUSE_LEADS
        )
        return (
            f"<Waveform><WaveformType>{kind}</WaveformType><SampleType>CONTINUOUS_SAMPLES</SampleType>"
            f"<SampleBase>500</SampleBase><NumberofLeads>8</NumberofLeads>{leads}</Waveform>"
        )

    path.write_text(
        '<?xml version="1.0" encoding="ISO-8859-1"?>\n<RestingECG><MuseInfo><MuseVersion>8.0</MuseVersion>'
        "</MuseInfo><PatientDemographics><PatientID>MRN-0042</PatientID><PatientAge>63</PatientAge>"
        "<AgeUnits>YEARS</AgeUnits><Gender>MALE</Gender><PatientLastName>DOE</PatientLastName>"
        "<PatientFirstName>JOHN</PatientFirstName><DateofBirth>01-02-1961</DateofBirth>"
        "</PatientDemographics><TestDemographics><AcquisitionDevice>MAC55</AcquisitionDevice>"
        "<AcquisitionTime>10:11:12</AcquisitionTime><AcquisitionDate>03-04-2024</AcquisitionDate>"
        "</TestDemographics><Diagnosis><DiagnosisStatement><StmtFlag>ENDSLINE</StmtFlag>"
        "<StmtText>Normal sinus rhythm</StmtText></DiagnosisStatement></Diagnosis>"
        + waveform("Median", 600)
        + waveform("Rhythm", 5000)
        + "</RestingECG>",
        encoding="iso-8859-1",
    )
    return {lead: values.astype(np.int64) for lead, values in stored.items()}


def api_import(client, capture_on_commit, dataset: str, paths: list[str]) -> int:
    """POST /api/v1/imports/ for `paths` under the import root, then run the queued job as a worker would.
    Returns the job's id."""
    import json

    from annotations.tasks import imports_run

    with capture_on_commit() as callbacks:
        response = client.post(
            "/api/v1/imports/",
            data=json.dumps({"dataset": dataset, "paths": paths}),
            content_type="application/json",
        )
    assert response.status_code == 201, response.content
    assert len(callbacks) == 1
    job_id = response.json()["id"]
    imports_run.apply(args=(job_id,)).get()
    return job_id
