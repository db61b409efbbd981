"""Inter-reader agreement statistics and consensus labels for ECG Review (issue 6): pure numpy.

Reads are ``reads[r, e, c]`` int8 arrays (readers x exams x classes) of 1 (marked), 0 (not marked) and
:data:`MISSING` (-1, no read); see :mod:`.reads`. Results are frozen dataclasses of numpy arrays with a
``to_dict()`` that gives JSON-ready lists (NaN as ``None``). Store :data:`ALGORITHM_VERSION` with any
saved result.

* :mod:`.stats`: per-class prevalence, observed agreement, Fleiss' kappa, Krippendorff's alpha, Gwet's
  AC1, PABAK, pairwise and mean pairwise Cohen's kappa; whole-exam exact match and mean Jaccard.
* :mod:`.bootstrap`: seeded percentile bootstrap intervals over exams.
* :mod:`.consensus`: majority vote, unanimity, Dawid-Skene latent truth.
* :mod:`.readers`: each reader against consensus, gold exams, and their own retests.

No module here imports Django.
"""

from .bootstrap import BootstrapResult, Interval, bootstrap_agreement, bootstrap_replicates, bootstrap_weights
from .consensus import DawidSkene, MajorityVote, dawid_skene, majority_vote, unanimous, unanimous_exams
from .readers import (
    GoldAccuracy,
    IntraReader,
    ReaderVsReference,
    gold_accuracy,
    intra_reader_agreement,
    reader_vs_consensus,
    reader_vs_reference,
)
from .reads import ALGORITHM_VERSION, MISSING, ReadsError, as_reads, reader_pairs
from .stats import (
    AgreementResult,
    ClassAgreement,
    ExamAgreement,
    TableCoefficients,
    agreement,
    class_agreement,
    cohen_kappa_from_confusion,
    exam_agreement,
    table_coefficients,
)

__all__ = [
    "ALGORITHM_VERSION",
    "MISSING",
    "AgreementResult",
    "BootstrapResult",
    "ClassAgreement",
    "DawidSkene",
    "ExamAgreement",
    "GoldAccuracy",
    "Interval",
    "IntraReader",
    "MajorityVote",
    "ReaderVsReference",
    "ReadsError",
    "TableCoefficients",
    "agreement",
    "as_reads",
    "bootstrap_agreement",
    "bootstrap_replicates",
    "bootstrap_weights",
    "class_agreement",
    "cohen_kappa_from_confusion",
    "dawid_skene",
    "exam_agreement",
    "gold_accuracy",
    "intra_reader_agreement",
    "majority_vote",
    "reader_pairs",
    "reader_vs_consensus",
    "reader_vs_reference",
    "table_coefficients",
    "unanimous",
    "unanimous_exams",
]
