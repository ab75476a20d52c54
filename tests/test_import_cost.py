"""`import denseops` stays cheap: what only some calls need (progress bars,
plots, data loading, scikit-learn) is imported when first used."""

import os
import subprocess
import sys

import numpy as np
import pytest
from denseops.nn import Dense, Sequential

# Each costs tens of milliseconds or more at import and serves only some calls.
DEFERRED = [
    "tqdm",
    "matplotlib",
    "sklearn",
    "scipy",
    "denseops.datasets",
    "denseops.plotting",
    "denseops.nn.serialization",
    "denseops.nn.keras_format",
    "denseops.nn.onnx_export",
    "h5py",
    "onnx",
]


@pytest.mark.parametrize("module", ["denseops", "denseops.nn"])
def test_importing_loads_none_of_the_deferred_modules(module):
    code = f"import sys, {module}; print(' '.join(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=os.path.expanduser("~"),
    )
    loaded = set(done.stdout.split())
    assert module in loaded
    assert [name for name in DEFERRED if name in loaded] == []


def test_a_progress_bar_still_appears_when_asked_for(capsys):
    model = Sequential([Dense(2, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    model.fit(np.zeros((4, 3), np.float32), np.array([0, 1, 0, 1]), epochs=1, verbose=1)
    assert "Epoch 1/1" in capsys.readouterr().out
