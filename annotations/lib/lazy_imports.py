"""One lock around the first import of the heavy numeric libraries (scipy, neurokit2, onnxruntime,
openecg) that the pure modules import where they are first used, so that a web process that only
names a provider never pays for them.

Why a lock: on the embedded default a request thread and the in-process task thread can both reach a
first import at once (a submit computing the median beat while the background thread runs a
suggestion). scipy's subpackages import each other (scipy.signal -> scipy.spatial -> scipy.spatial.
distance -> ...), and two threads entering that graph at different points make Python's per-module
deadlock avoidance hand one of them a partially initialised module: "cannot import name 'minkowski'
from partially initialized module 'scipy.spatial.distance'". Taking this lock around each such import
lets one thread finish the graph first; once a module is loaded the import under the lock is a dict
lookup.
"""

from __future__ import annotations

import threading

HEAVY_IMPORT = threading.RLock()
