"""Machine suggestions for exams: providers turn a waveform into per-class scores and measurements.

Pure Python (no Django): the Celery task and settings wire these in. Import the built-in providers from
their modules (measurements pulls in neurokit2, onnx_model pulls in onnxruntime); this package's top
level stays light so configuration can be checked without loading either.
"""

from annotations.lib.providers.base import (
    Patient,
    Provider,
    ProviderConfigError,
    ProviderError,
    ProviderResult,
    Rationale,
    build_provider,
    build_providers,
    check_result,
    check_signals,
    unknown_codes,
)

__all__ = [
    "Patient",
    "Provider",
    "ProviderConfigError",
    "ProviderError",
    "ProviderResult",
    "Rationale",
    "build_provider",
    "build_providers",
    "check_result",
    "check_signals",
    "unknown_codes",
]
