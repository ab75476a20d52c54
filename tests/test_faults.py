"""Faults that must not lose work: saves that die part way, odd checkpoint files, odd interrupts.

test_training.py already covers bad fit() arguments, NaN/Inf losses, Ctrl-C
between batches and a save whose writer raises; test_checkpoint_files.py
every malformed or foreign checkpoint file; test_datasets.py corrupt data
files. Here: a save killed with SIGKILL in the middle of writing, failures at
each later step of the atomic save (fsync, rename, Ctrl-C), fit() outside
the main thread, and a second Ctrl-C.
"""

import errno
import os
import signal
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest
from denseops.nn import Dense, Sequential, load, optimizers
from denseops.nn.serialization import unnamed_temporaries_supported
from helpers import blobs

FEATURES, CLASSES = 12, 3


@pytest.fixture
def data(rng):
    return blobs(rng, 256, FEATURES, CLASSES)


def trained(data, epochs=1):
    model = Sequential([Dense(8, activation="relu"), Dense(CLASSES, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(*data, epochs=epochs, batch_size=32, verbose=0, seed=0)
    return model


@pytest.fixture
def checkpoint(data, tmp_path):
    """A saved model, its predictions on the data, and the file's bytes."""
    model = trained(data)
    path = tmp_path / "model.npz"
    model.save(path)
    return path, model.predict(data[0]), path.read_bytes()


def assert_previous_checkpoint_intact(path, predictions, content, x):
    assert path.read_bytes() == content
    np.testing.assert_array_equal(load(path).predict(x), predictions)


# ---------------------------------------------------------------- killed mid-save

KILLED_SAVE = """
import sys, time
import numpy as np
from denseops.nn import load

model = load(sys.argv[1])
for w in model.weights:
    w += 1.0  # a different model, so a finished save would change the file

real_savez = np.savez

def slow_savez(file, **arrays):
    # Write the real archive's first half, tell the parent, then stall:
    # the parent kills this process while the temporary file is half full.
    real_savez(file, **arrays)
    size = file.tell()
    file.truncate(size // 2)
    file.flush()
    print("half written", flush=True)
    time.sleep(600)

np.savez = slow_savez
model.save(sys.argv[1])
print("save returned", flush=True)
"""


def test_save_killed_mid_write_leaves_the_previous_checkpoint(data, tmp_path, checkpoint):
    path, predictions, content = checkpoint
    script = tmp_path / "killed_save.py"
    script.write_text(KILLED_SAVE)
    child = subprocess.Popen(
        [sys.executable, str(script), str(path)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = child.stdout.readline()
        assert line == "half written\n", f"child said {line!r}; stderr: {child.stderr.read()}"
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdout.close()
        child.stderr.close()
    assert child.returncode == -signal.SIGKILL
    assert_previous_checkpoint_intact(path, predictions, content, data[0])
    # The half-written file had no name (O_TMPFILE), so nothing is left. Where the
    # file system lacks O_TMPFILE, at most one hidden, clearly named file stays.
    leftovers = sorted(
        p.name for p in tmp_path.iterdir() if p.name not in ("model.npz", "killed_save.py")
    )
    allowed = 0 if unnamed_temporaries_supported(tmp_path) else 1
    assert len(leftovers) <= allowed, leftovers
    assert all(n.startswith(".denseops-") and n.endswith(".tmp") for n in leftovers), leftovers
    # The next save works and replaces the checkpoint as usual.
    model = load(path)
    model.fit(*data, epochs=1, batch_size=32, verbose=0, seed=1)
    model.save(path)
    np.testing.assert_array_equal(load(path).predict(data[0]), model.predict(data[0]))


# ------------------------------------------------------- failures inside the process


def failing(exception):
    def fail(*args, **kwargs):
        raise exception

    return fail


@pytest.mark.parametrize(
    "step,exception",
    [
        ("fsync", OSError(errno.ENOSPC, "No space left on device")),
        ("replace", PermissionError(errno.EACCES, "Permission denied")),
        ("savez", KeyboardInterrupt()),
    ],
    ids=["enospc-at-fsync", "rename-refused", "ctrl-c-while-writing"],
)
def test_failed_save_at_each_step_keeps_the_checkpoint_and_no_temporary(
    data, tmp_path, checkpoint, monkeypatch, step, exception
):
    path, predictions, content = checkpoint
    model = trained(data, epochs=2)  # different weights from the checkpoint
    target = {"fsync": (os, "fsync"), "replace": (os, "replace"), "savez": (np, "savez")}[step]
    monkeypatch.setattr(*target, failing(exception))
    with pytest.raises(type(exception)):
        model.save(path)
    monkeypatch.undo()
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]
    assert_previous_checkpoint_intact(path, predictions, content, data[0])


def test_save_into_a_missing_folder_fails_and_creates_nothing(data, tmp_path):
    with pytest.raises(FileNotFoundError):
        trained(data).save(tmp_path / "no" / "such" / "folder" / "model.npz")
    assert list(tmp_path.iterdir()) == []


def test_save_onto_a_directory_fails_and_leaves_no_temporary(data, tmp_path):
    (tmp_path / "model.npz").mkdir()
    with pytest.raises(IsADirectoryError):
        trained(data).save(tmp_path / "model.npz")
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]


# ------------------------------------------------------------------ interrupts


def test_fit_outside_the_main_thread_trains_and_leaves_sigint_alone(data):
    # Only the main thread may install signal handlers; fit in a worker thread
    # must neither fail nor touch the process's Ctrl-C handler.
    handler = signal.getsignal(signal.SIGINT)
    model = Sequential([Dense(8, activation="relu"), Dense(CLASSES, activation="softmax")])
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy")
    results, errors = [], []

    def worker():
        try:
            results.append(model.fit(*data, epochs=2, batch_size=32, verbose=0, seed=0))
        except BaseException as error:
            errors.append(error)
            raise

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert not errors and len(results[0].epoch) == 2
    assert signal.getsignal(signal.SIGINT) is handler


class InterruptTwiceAfterUpdate(optimizers.RMSprop):
    """RMSprop whose third update is followed by two Ctrl-C presses."""

    def apply(self, grads, weights=None):
        super().apply(grads, weights)
        if self.iterations == 3:
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGINT)


def test_a_second_ctrl_c_stops_at_once_and_restores_the_handler(data):
    x, y = data
    model = Sequential([Dense(8, activation="relu"), Dense(CLASSES, activation="softmax")])
    model.compile(optimizer=InterruptTwiceAfterUpdate(), loss="sparse_categorical_crossentropy")
    handler = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt) as info:
        model.fit(x, y, epochs=5, batch_size=32, verbose=0, seed=0)
    assert type(info.value) is KeyboardInterrupt  # the user insisted: no waiting for the batch
    assert signal.getsignal(signal.SIGINT) is handler
    assert model.optimizer.iterations == 3
    assert np.isfinite(model.predict(x)).all()


def test_ctrl_c_without_fit_is_an_ordinary_keyboard_interrupt():
    # fit's handler is gone once fit returns: Ctrl-C afterwards behaves as usual.
    code = textwrap.dedent("""
        import os, signal
        import numpy as np
        from denseops.nn import Dense, Sequential
        model = Sequential([Dense(3, activation="softmax")])
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
        model.fit(np.ones((4, 2), np.float32), np.array([0, 1, 2, 0]), verbose=0)
        try:
            os.kill(os.getpid(), signal.SIGINT)
            import time; time.sleep(5)
        except KeyboardInterrupt:
            print("interrupted")
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "interrupted", done.stderr
