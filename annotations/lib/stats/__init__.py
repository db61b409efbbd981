"""Inter-reader agreement statistics and consensus labels for ECG Review: pure numpy.

Reads are ``reads[r, e, c]`` int8 arrays (readers x exams x classes) of 1 (marked), 0 (not marked) and
:data:`MISSING` (-1, no read); see :mod:`.reads`. Results are frozen dataclasses of numpy arrays with a
``to_dict()`` that gives JSON-ready lists (NaN as ``None``). Store :data:`ALGORITHM_VERSION` with any
saved result.

* :mod:`.stats`: per-class prevalence, observed agreement, Fleiss' kappa, Krippendorff's alpha, Gwet's
  AC1, PABAK, pairwise and mean pairwise Cohen's kappa; whole-exam exact match and mean Jaccard.
* :mod:`.coefficients`: the general formulas of a units x categories table, and Cohen's kappa.
* :mod:`.bootstrap`: seeded intervals over exams or patients (BCa), and over readers too.
* :mod:`.majority`: majority vote and unanimity; :mod:`.latent`: Dawid-Skene latent truth (binary per
  class, multi-class per exclusive set); :mod:`.consensus`: the decision of every cell
  (:func:`consensus_decide`).
* :mod:`.readers`: each reader against consensus, gold exams, and their own retests.

No module here imports Django.
"""

from .bootstrap import (
    BOOTSTRAP_METHODS,
    METHOD_EXAMS,
    METHOD_TWO_WAY,
    MIN_POSITIVE_EXAMS,
    UNIT_EXAMS,
    UNIT_PATIENTS,
    BootstrapResult,
    Interval,
    bootstrap_agreement,
    bootstrap_replicates,
    bootstrap_weights,
    cluster_weights,
    default_method,
    multi_read_exams,
)
from .coefficients import TableCoefficients, cohen_kappa_from_confusion, table_coefficients
from .consensus import ConsensusDecision, ExclusiveSet, consensus_decide, exclusive_violations
from .latent import DawidSkene, MultiClassDawidSkene, dawid_skene, dawid_skene_multiclass, set_answers
from .majority import MajorityVote, majority_vote, unanimous, unanimous_exams
from .readers import (
    GoldAccuracy,
    IntraReader,
    ReaderClassTable,
    ReaderVsReference,
    RetestIntervals,
    gold_accuracy,
    intra_reader_agreement,
    leave_one_out_reference,
    reader_class_table,
    reader_vs_consensus,
    reader_vs_reference,
    retest_intervals,
    retest_summary,
    wilson_interval,
)
from .reads import ALGORITHM_VERSION, MISSING, ReadsError, as_reads, reader_pairs
from .stats import AgreementResult, ClassAgreement, ExamAgreement, agreement, class_agreement, exam_agreement

__all__ = [
    "ALGORITHM_VERSION",
    "BOOTSTRAP_METHODS",
    "METHOD_EXAMS",
    "METHOD_TWO_WAY",
    "MIN_POSITIVE_EXAMS",
    "MISSING",
    "UNIT_EXAMS",
    "UNIT_PATIENTS",
    "AgreementResult",
    "BootstrapResult",
    "ClassAgreement",
    "ConsensusDecision",
    "DawidSkene",
    "ExamAgreement",
    "ExclusiveSet",
    "GoldAccuracy",
    "Interval",
    "IntraReader",
    "MajorityVote",
    "MultiClassDawidSkene",
    "ReaderClassTable",
    "ReaderVsReference",
    "ReadsError",
    "RetestIntervals",
    "TableCoefficients",
    "agreement",
    "as_reads",
    "bootstrap_agreement",
    "bootstrap_replicates",
    "bootstrap_weights",
    "class_agreement",
    "cluster_weights",
    "cohen_kappa_from_confusion",
    "consensus_decide",
    "dawid_skene",
    "dawid_skene_multiclass",
    "default_method",
    "exam_agreement",
    "exclusive_violations",
    "gold_accuracy",
    "intra_reader_agreement",
    "leave_one_out_reference",
    "majority_vote",
    "multi_read_exams",
    "reader_class_table",
    "reader_pairs",
    "reader_vs_consensus",
    "reader_vs_reference",
    "retest_intervals",
    "retest_summary",
    "set_answers",
    "table_coefficients",
    "unanimous",
    "unanimous_exams",
    "wilson_interval",
]
