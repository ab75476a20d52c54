"""Keras's automatic names: ``dense``, ``dense_1``, ``dropout``, ``sequential``...

A layer or model created without a name gets its class's name in snake case,
numbered from the second one on, across the whole session (as in Keras,
where two models built one after the other hold ``dense`` and ``dense_2``).
``clear_session()`` starts the numbering again.
"""

import re
import threading
from collections import defaultdict

_counts: defaultdict[str, int] = defaultdict(int)
_lock = threading.Lock()  # layers may be created from several threads


def snake_case(class_name):
    """``BatchNormalization`` -> ``batch_normalization``, as Keras names them."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", class_name).lower()


def unique_name(base):
    """``base`` the first time, then ``base_1``, ``base_2``..."""
    with _lock:
        count = _counts[base]
        _counts[base] += 1
    return base if count == 0 else f"{base}_{count}"


def clear_session():
    """Starts the automatic names again (``keras.utils.clear_session``)."""
    with _lock:
        _counts.clear()
