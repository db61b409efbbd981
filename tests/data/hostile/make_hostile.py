"""Write the hostile-file corpus next to this script: every file is wrong in exactly one way.

Run with the project's Python: `.venv/bin/python tests/data/hostile/make_hostile.py`. The output is small
and committed; tests/imports/test_import_hostile.py has one test per file. Each file is deterministic, so a
regeneration changes nothing unless this script changes.
"""

from __future__ import annotations

import csv
import gzip
import io
import shutil
import zipfile
from pathlib import Path

import h5py
import numpy as np
import scipy.io

HERE = Path(__file__).resolve().parent
LEADS = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]


def _code_like(path: Path, tracings: np.ndarray, exam_ids: list[int]) -> None:
    with h5py.File(path, "w", track_order=True) as f:
        f.create_dataset("tracings", data=tracings, compression="gzip", chunks=(1, 4096, 12))
        f.create_dataset("exam_id", data=np.asarray(exam_ids, dtype=np.int64))


def _sine_exams(n: int) -> np.ndarray:
    t = np.arange(4096) / 400.0
    base = 0.5 * np.sin(2 * np.pi * 1.2 * t)[:, None] * np.linspace(0.5, 1.5, 12)[None, :]
    return np.stack([base * (1 + 0.1 * i) for i in range(n)]).astype(np.float32)


def hdf5_cases() -> None:
    # 1. 'tracings' is an external link: h5py would open whatever file the link names.
    with h5py.File(HERE / "hdf5_external_link.h5", "w") as f:
        f["tracings"] = h5py.ExternalLink("/etc/passwd", "/tracings")
        f.create_dataset("exam_id", data=np.arange(1, dtype=np.int64))
    # 2. 'tracings' keeps its bytes in an external raw file outside the HDF5 file.
    with h5py.File(HERE / "hdf5_external_storage.h5", "w") as f:
        f.create_dataset(
            "tracings", shape=(1, 4096, 12), dtype="f4", external=[("/etc/hostname", 0, 4096 * 12 * 4)]
        )
        f.create_dataset("exam_id", data=np.arange(1, dtype=np.int64))
    # 3. 'tracings' is a virtual dataset mapping another file.
    layout = h5py.VirtualLayout(shape=(1, 4096, 12), dtype="f4")
    layout[:] = h5py.VirtualSource("elsewhere.h5", "tracings", shape=(1, 4096, 12))
    with h5py.File(HERE / "hdf5_virtual_dataset.h5", "w") as f:
        f.create_virtual_dataset("tracings", layout, fillvalue=0)
        f.create_dataset("exam_id", data=np.arange(1, dtype=np.int64))
    # 4. Declares 2 million exams (chunked, never written: the file stays tiny).
    with h5py.File(HERE / "hdf5_too_many_records.h5", "w") as f:
        f.create_dataset("tracings", shape=(2_000_000, 4096, 12), dtype="f4", chunks=(1, 4096, 12))
        f.create_dataset("exam_id", shape=(2_000_000,), dtype="i8", chunks=(1024,))
    # 5. Declares one exam of 3 million samples per lead.
    with h5py.File(HERE / "hdf5_too_long.h5", "w") as f:
        f.create_dataset("tracings", shape=(1, 3_000_000, 12), dtype="f4", chunks=(1, 4096, 12))
        f.create_dataset("exam_id", data=np.arange(1, dtype=np.int64))
    # 6. Three exams, the middle one with a NaN sample and the last with an infinite one.
    tracings = _sine_exams(3)
    tracings[1, 2000, 3] = np.nan
    tracings[2, 100, 0] = np.inf
    _code_like(HERE / "hdf5_nan_and_inf.h5", tracings, [9001, 9002, 9003])
    # 15. Declares 10^12 samples within every per-record limit (a million records of 83,334 samples),
    #     chunked and never written: a few kB that would read as four terabytes of zeros.
    with h5py.File(HERE / "hdf5_trillion_samples.h5", "w") as f:
        f.create_dataset(
            "tracings", shape=(1_000_000, 83_334, 12), dtype="f4", chunks=(1, 4096, 12), compression="gzip"
        )
        f.create_dataset("exam_id", shape=(1_000_000,), dtype="i8", chunks=(65536,))


def _wfdb_header(name: str, n_samples: int, file_name: str, n_signals: int = 12) -> str:
    lines = [f"{name} {n_signals} 500 {n_samples}"]
    for index in range(n_signals):
        lead = LEADS[index] if index < 12 else f"X{index}"
        lines.append(f"{file_name} 16 1000/mV 16 0 0 0 0 {lead}")
    return "\n".join(lines) + "\n"


def wfdb_cases() -> None:
    # 7. The header declares 5000 samples per lead; the .dat holds 4000.
    (HERE / "wfdb_short_data.hea").write_text(_wfdb_header("wfdb_short_data", 5000, "wfdb_short_data.dat"))
    np.zeros((4000, 12), dtype="<i2").tofile(HERE / "wfdb_short_data.dat")
    # 8. The header names a signal file outside its folder.
    (HERE / "wfdb_escape.hea").write_text(_wfdb_header("wfdb_escape", 10, "../escape.dat"))
    # 9. The header declares ten billion samples per lead.
    (HERE / "wfdb_huge.hea").write_text(_wfdb_header("wfdb_huge", 10_000_000_000, "wfdb_huge.dat"))
    # 16. The other direction: the header declares 300 samples per lead; the .dat holds 400.
    (HERE / "wfdb_long_data.hea").write_text(_wfdb_header("wfdb_long_data", 300, "wfdb_long_data.dat"))
    np.zeros((400, 12), dtype="<i2").tofile(HERE / "wfdb_long_data.dat")
    # 10. The header declares 200 signals.
    (HERE / "wfdb_many_signals.hea").write_text(
        _wfdb_header("wfdb_many_signals", 10, "wfdb_many_signals.dat", n_signals=200)
    )


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE AnnotatedECG [
  <!ENTITY lol "lol">
  <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<AnnotatedECG xmlns="urn:hl7-org:v3"><id root="&lol9;"/></AnnotatedECG>
"""

EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE RestingECG [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<RestingECG><PatientDemographics><PatientID>&secret;</PatientID></PatientDemographics></RestingECG>
"""


EXTERNAL_DTD = """<?xml version="1.0"?>
<!DOCTYPE AnnotatedECG SYSTEM "http://127.0.0.1:9/evil.dtd">
<AnnotatedECG xmlns="urn:hl7-org:v3"><id root="x"/></AnnotatedECG>
"""

PARAMETER_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE RestingECG [<!ENTITY % remote SYSTEM "file:///etc/passwd"> %remote;]>
<RestingECG/>
"""


def quadratic_blowup(size: int = 50_000, uses: int = 50_000) -> str:
    """One 50 kB entity used 50,000 times: no nesting for a depth limit to catch, 2.5 GB expanded.
    Made at test time (the document itself is about 300 kB)."""
    uses_text = "&a;" * uses
    return (
        f'<?xml version="1.0"?>\n<!DOCTYPE AnnotatedECG [<!ENTITY a "{"x" * size}">]>\n'
        f'<AnnotatedECG xmlns="urn:hl7-org:v3"><id root="{uses_text}"/></AnnotatedECG>\n'
    )


def xml_cases() -> None:
    # 11. Exponential entity expansion ("billion laughs") in an aECG document.
    (HERE / "aecg_billion_laughs.xml").write_text(BILLION_LAUGHS)
    # 12. An external entity reading a local file, in a MUSE document.
    (HERE / "muse_external_entity.xml").write_text(EXTERNAL_ENTITY)
    # 17. An external DTD to fetch over the network, in an aECG document.
    (HERE / "aecg_external_dtd.xml").write_text(EXTERNAL_DTD)
    # 18. A parameter entity pulling in a local file, in a MUSE document.
    (HERE / "muse_parameter_entity.xml").write_text(PARAMETER_ENTITY)


# --- Made at test time: small to generate, never committed ------------------------------------------
def zip_bomb(path: Path, expanded_mb: int = 2048) -> Path:
    """A deflated member of `expanded_mb` MB of zeros, streamed in: about 2 MB on disk for 2 GB."""
    block = b"\0" * (1024 * 1024)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        with archive.open("tracings.h5", "w", force_zip64=True) as member:
            for _ in range(expanded_mb):
                member.write(block)
    return path


def nested_archive(path: Path, depth: int = 5) -> Path:
    """A zip holding a zip holding ... a gzip of a real-looking WFDB header."""
    payload = gzip.compress(_wfdb_header("inner", 10, "inner.dat").encode())
    name = "inner.hea.gz"
    for level in range(depth):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(name, payload)
        payload, name = buffer.getvalue(), f"level{level}.zip"
    path.write_bytes(payload)
    return path


def gzip_bomb(path: Path, expanded_mb: int = 1024) -> Path:
    block = b"\0" * (1024 * 1024)
    with gzip.open(path, "wb", compresslevel=9) as handle:
        for _ in range(expanded_mb):
            handle.write(block)
    return path


def other_cases() -> None:
    # 13. A CPSC-2018 struct with an infinite sample.
    data = np.zeros((12, 1000))
    data[:, ::50] = 1.0
    data[4, 123] = np.inf
    scipy.io.savemat(
        HERE / "cpsc_inf.mat", {"ECG": {"sex": "Male", "age": 60, "data": data}}, do_compression=True
    )
    # 14. A PTB-XL folder whose database points at a record outside the folder.
    folder = HERE / "ptbxl_escape"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    with open(folder / "ptbxl_database.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["ecg_id", "age", "sex", "scp_codes", "filename_lr", "filename_hr"])
        writer.writerow([1, 56, 1, "{'NORM': 100.0}", "../../ptbxl/records100/00000/00001_lr", ""])
    # 19. A PTB-XL database naming a record by an absolute path.
    folder = HERE / "ptbxl_absolute"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    with open(folder / "ptbxl_database.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["ecg_id", "age", "sex", "scp_codes", "filename_lr", "filename_hr"])
        writer.writerow([1, 56, 1, "{'NORM': 100.0}", "/etc/passwd", ""])
    # 20. A CPSC-2018 struct with a NaN sample.
    data = np.zeros((12, 1000))
    data[:, ::50] = 1.0
    data[7, 456] = np.nan
    scipy.io.savemat(
        HERE / "cpsc_nan.mat", {"ECG": {"sex": "Female", "age": 61, "data": data}}, do_compression=True
    )


if __name__ == "__main__":
    hdf5_cases()
    wfdb_cases()
    xml_cases()
    other_cases()
    total = sum(p.stat().st_size for p in HERE.rglob("*") if p.is_file())
    print(f"hostile corpus written to {HERE} ({total / 1024:.0f} KiB)")
