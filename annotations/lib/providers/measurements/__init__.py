"""The built-in measurement provider: global ECG measurements and the rule-based scores they support.

Pipeline: resample to 500 Hz -> zero-phase 0.5-40 Hz band-pass -> R peaks on the QRS energy of all 12
leads (annotations/lib/ecg/qrs.py) -> per-lead wave delineation (neurokit2 ecg_delineate, "prominence"
method) -> per-lead medians over beats -> global values over the leads -> median beats for
amplitudes and axis -> logistic scores around published thresholds.

Why these choices (checked on the real records in tests/data):
* One internal rate (500 Hz) so every method sees the same sampling; 100 Hz PTB-XL records are
  upsampled (their intervals are then only as good as 10 ms sampling allows, noted in `quality`).
* Band-pass instead of ecg_clean's default: that one ends with a 20 ms moving average against 50 Hz
  mains, which visibly widens the QRS and lowers R amplitudes. 40 Hz keeps the QRS shape.
* "prominence" delineation gave plausible PR/QRS/QT on the DICOM sample with device measurements
  (PR 148/161, QRS 88/75, QT 399/368 ms); "dwt" gave QRS of ~200 ms on normal ECGs and "cwt" failed.
  It expects positive R peaks, so each lead is flipped to its dominant QRS polarity first.
* PR from the 12-lead median beats: P onset where the P wave's upstroke leaves the baseline (median over
  the leads where a P stands out) to the QRS onset the leads give; the per-lead "prominence" P onsets
  sat inside the P wave and missed first-degree AV blocks (waves.py says why). QRS spans the leads as
  carts measure it (second earliest onset to second latest offset) and QT runs from that onset to the
  median T offset: the median of the leads' own QRS was shorter than the cart's on all seven real
  records with cart measurements (by 25 ms at the median); spanning the leads, 11 ms at the median
  either way, QT 8 (bench/measurements.py).

Scores: score = 1 / (1 + exp(-(x - threshold) / width)), i.e. 0.5 at the clinical threshold, 0.73 one
width beyond it, 0.95 three widths beyond. Each width is about the measurement's own uncertainty on a
10 s strip, so a value within noise of the threshold scores near 0.5 instead of flipping 0/1, and
scores rank exams (AUC) rather than only classify them.

Codes covered, and why not others:
* LONG_QT, LAD, RAD, LOWV_LIMB, LOWV_PREC, LVH_V: each follows from a measured number by a published
  criterion (rules.py).
* Rhythm and conduction criteria (sinus rhythms, AF, flutter, SVT/AT, junctional and ventricular
  rhythms, VT/NSVT, premature beats, pauses, PR, pre-excitation, pacing; bundle branch and fascicular
  blocks, IVCD): beats.py labels every beat against the dominant one and finds pacing spikes and flutter
  waves, qrs_shape.py reads each lead's QRS on the median beat, rhythm_criteria.py and
  conduction_criteria.py score the published criteria with a rationale each (and say what they leave
  out: second- and third-degree AV block among others).
* Morphology criteria (ST elevation and depression by territory, Q waves, hypertrophy, atrial
  enlargement, QT by sex, T-wave changes, early repolarisation, Brugada): morphology.py measures each
  lead of the median beat, morphology_criteria.py scores the published criteria with a rationale each.
* Not NORM: "normal" also needs normal repolarisation, no infarct Q waves, no ectopy... which these
  measurements do not see; a high NORM score from intervals alone would be overconfident.
"""

from annotations.lib.providers.measurements.provider import MeasurementProvider
from annotations.lib.providers.measurements.rules import CODES, RULES, Rule, scores_from

__all__ = ["CODES", "RULES", "MeasurementProvider", "Rule", "scores_from"]
