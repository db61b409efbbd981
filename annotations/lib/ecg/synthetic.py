"""Synthetic 12-lead ECGs with known timing, for demos, tests and benchmarks.

Each beat is a sum of Gaussian P, Q, R, S and T waves on a 2-D frontal-plane dipole, projected onto
the limb leads so that Einthoven's law holds exactly, plus a fixed mix for the precordial leads. The
R peaks sit exactly at the requested RR intervals, which is what caliper and rate tests need.
"""

from __future__ import annotations

import numpy as np

from annotations.lib.ecg.leads import STANDARD_LEADS, derive_limb_leads

# (centre offset from R in s, width in s, amplitude in mV) for each wave of lead II.
_WAVES = {
    "P": (-0.16, 0.025, 0.15),
    "Q": (-0.025, 0.010, -0.10),
    "R": (0.0, 0.012, 1.20),
    "S": (0.025, 0.010, -0.25),
    "T": (0.28, 0.050, 0.30),
}
# Fraction of each wave seen by lead I (the dipole's projection), the rest of lead II defines the axis.
_LEAD_I_SHARE = {"P": 0.5, "Q": 0.4, "R": 0.55, "S": 0.3, "T": 0.6}
_PRECORDIAL_R = (0.25, 0.45, 0.8, 1.3, 1.5, 1.2)
_PRECORDIAL_S = (-1.0, -1.4, -0.9, -0.5, -0.3, -0.15)


def synthetic_ecg(
    *,
    heart_rate_bpm: float = 72.0,
    sampling_rate: float = 500.0,
    duration_s: float = 10.0,
    rr_jitter: float = 0.0,
    noise_uv: float = 0.0,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Return (signals in mV shaped (12, n), R-peak sample indices)."""
    rng = np.random.default_rng(seed)
    n = round(duration_s * sampling_rate)
    t = np.arange(n) / sampling_rate
    rr = 60.0 / heart_rate_bpm
    peaks_s, at = [], 0.35
    while at < duration_s - 0.35:
        peaks_s.append(at)
        at += rr * (1.0 + rr_jitter * rng.standard_normal())
    peaks = np.round(np.asarray(peaks_s) * sampling_rate).astype(int)
    peak_times = peaks / sampling_rate

    def wave_sum(shares: dict[str, float] | None, scale: dict[str, float] | None = None) -> np.ndarray:
        out = np.zeros(n)
        for name, (offset, width, amplitude) in _WAVES.items():
            gain = amplitude * (shares[name] if shares else 1.0) * (scale or {}).get(name, 1.0)
            for centre in peak_times + offset:
                lo, hi = np.searchsorted(t, [centre - 5 * width, centre + 5 * width])
                out[lo:hi] += gain * np.exp(-0.5 * ((t[lo:hi] - centre) / width) ** 2)
        return out

    lead_ii = wave_sum(None)
    lead_i = wave_sum(_LEAD_I_SHARE)
    limb = derive_limb_leads(lead_i, lead_ii)
    leads = {"I": lead_i, "II": lead_ii, **limb}
    for index, (r_amp, s_amp) in enumerate(zip(_PRECORDIAL_R, _PRECORDIAL_S, strict=True)):
        scale = {"R": r_amp / _WAVES["R"][2], "S": s_amp / _WAVES["S"][2]}
        leads[f"V{index + 1}"] = wave_sum(None, scale)
    signals = np.stack([leads[name] for name in STANDARD_LEADS])
    if noise_uv:
        signals = signals + rng.normal(0.0, noise_uv / 1000.0, signals.shape)
    return signals, peaks
