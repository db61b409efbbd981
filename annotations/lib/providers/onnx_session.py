"""Session options every provider's onnxruntime session shares.

On x86 CPUs without VNNI (AVX2, AVX-512 without VNNI), onnxruntime multiplies uint8 by int8 with an
instruction that adds each pair of products into a saturating 16-bit register: past 32,767 the sum is
clipped, and an int8 model's output is no longer its arithmetic. On the CI host (a CPU without VNNI) the
openecg codec's logits moved by up to 0.40 against a VNNI host, enough to change a QRS duration; the same
exam would get other suggestions depending on which models worker took it. onnxruntime's own option turns
the weights into uint8 and uses the exact uint8 x uint8 product on those CPUs (slower there), and changes
nothing on a VNNI CPU or a GPU.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from onnxruntime import SessionOptions

EXACT_INT8_PRODUCTS = "session.x64quantprecision"


def exact_int8_products(options: SessionOptions) -> None:
    """Ask `options` (an onnxruntime.SessionOptions) for int8 products without saturation."""
    options.add_session_config_entry(EXACT_INT8_PRODUCTS, "1")
