"""Checkpoint files that are not what they claim: non-regular paths, malformed and crafted files.

save() writes through symlinks and refuses anything that is not a regular
file; load() refuses FIFOs and directories without hanging. Every malformed
checkpoint is one ValueError naming the file; crafted files (sizes declared
without data, compressed or overlapping entries, extra entries) are refused
before anything large is allocated, which tracemalloc (it sees NumPy's
allocations too) measures.
"""

import json
import math
import os
import re
import stat
import struct
import threading
import tracemalloc
import zipfile

import numpy as np
import pytest
from denseops import nn
from denseops.nn import SGD, Dense, Sequential, load

FEATURES, CLASSES = 12, 3
MEMORY_BOUND = 100 << 20  # bytes: what loading any crafted file under 10 MB may allocate


@pytest.fixture
def data(rng):
    x = rng.normal(size=(64, FEATURES)).astype(np.float32)
    return x, rng.integers(0, CLASSES, size=64)


def trained(data, optimizer="rmsprop"):
    model = Sequential([Dense(8, activation="relu"), Dense(CLASSES, activation="softmax")])
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(*data, epochs=1, batch_size=16, verbose=0, seed=0)
    return model


@pytest.fixture
def checkpoint(data, tmp_path):
    path = tmp_path / "model.npz"
    trained(data).save(path)
    return path


def entries(path):
    with np.load(path) as archive:
        return dict(archive)


def write_entries(path, arrays):
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def config_of(arrays):
    return json.loads(str(arrays["__denseops_config__"]))


def with_config(arrays, config):
    return {**arrays, "__denseops_config__": np.array(json.dumps(config))}


def load_within_bounds(path):
    """load(path)'s exception, checking it allocated less than MEMORY_BOUND on the way."""
    tracemalloc.start()
    try:
        with pytest.raises(ValueError) as raised:
            load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < MEMORY_BOUND, f"load allocated {peak / 2**20:.0f} MB before refusing {path}"
    return str(raised.value)


# ------------------------------------------------------------- save onto odd paths


def test_save_writes_through_a_symlink_and_keeps_the_link(data, checkpoint, tmp_path):
    link = tmp_path / "latest.npz"
    link.symlink_to(checkpoint.name)
    model = trained(data, optimizer="adam")
    model.save(link)
    assert link.is_symlink() and os.readlink(link) == checkpoint.name
    assert stat.S_ISREG(os.lstat(checkpoint).st_mode)
    np.testing.assert_array_equal(load(checkpoint).predict(data[0]), model.predict(data[0]))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest.npz", "model.npz"]


def test_save_through_a_dangling_symlink_creates_its_target(data, tmp_path):
    (tmp_path / "runs").mkdir()
    link = tmp_path / "latest.npz"
    link.symlink_to(tmp_path / "runs" / "model.npz")
    model = trained(data)
    model.save(link)
    assert link.is_symlink()
    target = tmp_path / "runs" / "model.npz"
    assert stat.S_ISREG(os.lstat(target).st_mode)
    np.testing.assert_array_equal(load(target).predict(data[0]), model.predict(data[0]))


def test_save_through_a_dangling_symlink_into_a_missing_folder_fails(data, tmp_path):
    link = tmp_path / "latest.npz"
    link.symlink_to(tmp_path / "gone" / "model.npz")
    with pytest.raises(FileNotFoundError):
        trained(data).save(link)
    assert [p.name for p in tmp_path.iterdir()] == ["latest.npz"] and link.is_symlink()


def make_fifo(path):
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("through_link", [False, True], ids=["fifo", "symlink-to-fifo"])
def test_save_onto_a_fifo_is_refused_and_leaves_it(data, tmp_path, through_link):
    fifo = make_fifo(tmp_path / "pipe")
    path = fifo
    if through_link:
        path = tmp_path / "link.npz"
        path.symlink_to(fifo)
    with pytest.raises(ValueError, match=rf"^{re.escape(str(path))}: is a FIFO, not a regular"):
        trained(data).save(path)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted({"pipe", path.name})


def test_save_onto_a_symlink_to_a_directory_is_refused(data, tmp_path):
    (tmp_path / "folder").mkdir()
    link = tmp_path / "model.npz"
    link.symlink_to("folder")
    with pytest.raises(IsADirectoryError, match="not a directory"):
        trained(data).save(link)
    assert link.is_symlink() and list((tmp_path / "folder").iterdir()) == []


# ---------------------------------------------------------- load of odd paths


def finishes(function, timeout=30):
    """Runs function in a thread; returns (finished, exception) after at most timeout s."""
    outcome = {}

    def run():
        try:
            function()
        except BaseException as error:  # noqa: BLE001 - handed back to the test
            outcome["error"] = error

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout)
    return not worker.is_alive(), outcome.get("error")


def test_load_of_a_fifo_is_an_error_not_a_hang(tmp_path):
    fifo = make_fifo(tmp_path / "model.npz")
    finished, error = finishes(lambda: load(fifo))
    if not finished:  # unblock the reader so the thread can end
        with open(fifo, "wb"):
            pass
    assert finished, "load() of a FIFO with no writer hung"
    assert isinstance(error, ValueError) and str(error).startswith(f"{fifo}: is a FIFO"), error


def test_load_of_a_directory_is_is_a_directory_error(tmp_path):
    with pytest.raises(IsADirectoryError, match="not a directory"):
        load(tmp_path)


# --------------------------------------------------------- malformed checkpoints


def drop(*keys):
    def change(arrays):
        return {k: v for k, v in arrays.items() if k not in keys}

    return change


def set_config(change_config):
    def change(arrays):
        config = config_of(arrays)
        change_config(config)
        return with_config(arrays, config)

    return change


def replace(key, value):
    return lambda arrays: {**arrays, key: value(arrays[key])}


def raw_config(text):
    return lambda arrays: {**arrays, "__denseops_config__": np.array(text)}


MALFORMED = {
    "another-version": (
        set_config(lambda c: c.update(version=99)),
        r"expected format 'denseops.Sequential' version 1, "
        r"got 'denseops.Sequential' version 99",
    ),
    "another-format": (
        set_config(lambda c: c.update(format="keras.Model")),
        r"expected format 'denseops.Sequential' version 1, got 'keras.Model' version 1",
    ),
    "config-not-json": (raw_config("{'layers': ["), r"__denseops_config__ is not valid JSON"),
    "config-a-list": (raw_config("[1, 2]"), r"must be a JSON object; it is list"),
    "config-numbers": (
        replace("__denseops_config__", lambda a: np.zeros(3)),
        r"__denseops_config__ must be a string",
    ),
    "no-layers-key": (set_config(lambda c: c.pop("layers")), r"config has no 'layers'"),
    "no-layers": (set_config(lambda c: c.update(layers=[])), r"lists no layers"),
    "layer-not-a-dict": (
        set_config(lambda c: c["layers"].__setitem__(1, 7)),
        r"layer 1 config has no 'class'",
    ),
    "unknown-layer": (
        set_config(lambda c: c["layers"][0].update({"class": "Conv2D"})),
        r"unknown layer class 'Conv2D'",
    ),
    "units-missing": (
        set_config(lambda c: c["layers"][1].pop("units")),
        r"layer 1 config has no 'units'",
    ),
    "units-a-string": (
        set_config(lambda c: c["layers"][1].update(units="3")),
        r"layer 1 config: 'units' must be int. Received: '3'",
    ),
    "units-negative": (
        set_config(lambda c: c["layers"][1].update(units=-3)),
        r"layer 1 config: units must be a positive integer",
    ),
    "input-dim-zero": (
        set_config(lambda c: c["layers"][0].update(input_dim=0)),
        r"input_dim is 0, expected a positive integer",
    ),
    "layers-do-not-chain": (
        set_config(lambda c: c["layers"][1].update(input_dim=9)),
        r"input_dim is 9, expected 8, the previous layer.s output",
    ),
    "bad-activation": (
        set_config(lambda c: c["layers"][0].update(activation="swishh")),
        r"layer 0 config: Unknown activation",
    ),
    "alpha-nan": (
        set_config(
            lambda c: c["layers"][0].update(activation={"name": "leaky_relu", "alpha": math.nan})
        ),
        r"layer 0 config: leaky_relu: alpha must be finite",
    ),
    "alpha-a-string": (
        set_config(lambda c: c["layers"][0].update(activation={"name": "elu", "alpha": "1"})),
        r"layer 0 config activation: 'alpha' must be int or float. Received: '1'",
    ),
    "bad-dtype": (
        set_config(lambda c: c["layers"][0].update(dtype="int8")),
        r"layer 0 config: Dense dtype must be float32 or float64",
    ),
    "unknown-loss": (
        set_config(lambda c: c["loss"].update({"class": "Hinge"})),
        r"loss config .*Unknown loss: .*Expected one of \['BinaryCrossentropy'",
    ),
    "old-loss-name": (
        set_config(lambda c: c.update(loss={"name": "hinge", "from_logits": False})),
        r"loss config .*Unknown loss: \{'name': 'hinge'",
    ),
    "unknown-metric": (
        set_config(lambda c: c.update(metrics=["f1_score"])),
        r"training config does not fit the layers \(Unknown metric: 'f1_score'",
    ),
    "unknown-optimizer": (
        set_config(lambda c: c["optimizer"].update(name="lion")),
        r"optimizer config .* is not valid \(KeyError: 'lion'\)",
    ),
    "bad-optimizer-argument": (
        set_config(lambda c: c["optimizer"].update(rho=2.0)),
        r"optimizer config .* is not valid .*rho must be",
    ),
    "negative-iterations": (
        set_config(lambda c: c.update(optimizer_iterations=-4)),
        r"optimizer_iterations must be >= 0. Received: -4",
    ),
    "iterations-a-float": (
        set_config(lambda c: c.update(optimizer_iterations=2.5)),
        r"'optimizer_iterations' must be int. Received: 2.5",
    ),
    "state-wrong-dtype": (
        replace("optimizer/0/velocity", lambda a: a.astype(np.float64)),
        r"optimizer state 'optimizer/0/velocity' has dtype float64, "
        r"expected float32",
    ),
    "state-wrong-shape": (
        replace("optimizer/2/velocity", lambda a: a[:2]),
        r"optimizer state 'optimizer/2/velocity' has shape \(2, 3\), "
        r"expected \(8, 3\)",
    ),
    "velocity-missing": (
        drop("optimizer/1/velocity"),
        r"optimizer state is partial: 3 entries, missing "
        r"'optimizer/1/velocity'",
    ),
    "weights-missing": (drop("layer1/weight1"), r"missing weights 'layer1/weight1'"),
    "weights-wrong-dtype": (
        replace("layer1/weight0", lambda a: a.astype(np.float64)),
        r"weights 'layer1/weight0' of layer 'dense_1' have shape \(8, 3\) "
        r"and dtype float64; the architecture needs \(8, 3\) float32",
    ),
    "extra-entry": (
        lambda arrays: {**arrays, "notes": np.zeros(4)},
        r"unexpected entries 'notes': the architecture does not use them",
    ),
    "state-for-a-missing-weight": (
        lambda arrays: {**arrays, "optimizer/9/velocity": np.zeros(3)},
        r"unexpected entries 'optimizer/9/velocity'",
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_load_of_a_malformed_checkpoint_is_one_value_error_naming_file_and_fault(checkpoint, case):
    change, message = MALFORMED[case]
    write_entries(checkpoint, change(entries(checkpoint)))
    with pytest.raises(ValueError) as raised:
        load(checkpoint)
    assert type(raised.value) is ValueError
    assert re.match(rf"{re.escape(str(checkpoint))}: .*{message}", str(raised.value)), str(
        raised.value
    )


def test_load_refuses_momentum_state_for_only_some_weights(data, tmp_path):
    path = tmp_path / "model.npz"
    trained(data, optimizer=SGD(momentum=0.9)).save(path)
    arrays = entries(path)
    write_entries(
        path,
        {k: v for k, v in arrays.items() if not k.startswith(("optimizer/2/", "optimizer/3/"))},
    )
    with pytest.raises(
        ValueError,
        match=rf"{re.escape(str(path))}: optimizer state is partial: "
        r"2 entries, missing 'optimizer/2/velocity', "
        r"'optimizer/3/velocity'",
    ):
        load(path)


def test_load_of_misshapen_adam_state_names_path_and_shapes(data, tmp_path):
    path = tmp_path / "model.npz"
    trained(data, optimizer="adam").save(path)
    write_entries(path, replace("optimizer/0/m", lambda a: a[:2])(entries(path)))
    with pytest.raises(
        ValueError,
        match=rf"{re.escape(str(path))}: optimizer state 'optimizer/0/m' has shape "
        rf"\(2, 8\), expected \({FEATURES}, 8\)",
    ):
        load(path)


def test_load_of_a_checkpoint_without_optimizer_state_starts_a_fresh_optimizer(data, tmp_path):
    # All of the state or none: none is a model saved before its first step.
    path = tmp_path / "model.npz"
    trained(data).save(path)
    write_entries(path, {k: v for k, v in entries(path).items() if not k.startswith("optimizer/")})
    model = load(path)
    assert model.optimizer.state == []
    model.fit(*data, epochs=1, batch_size=16, verbose=0)


# ---------------------------------------------------------------- crafted files


def test_a_huge_layer_declared_without_weights_is_refused_cheaply(checkpoint):
    # 20000 x 20000 float64 would be 3.2 GB of weights (plus gradients) to build.
    arrays = entries(checkpoint)
    config = config_of(arrays)
    config["layers"] = [
        {
            **config["layers"][0],
            "input_dim": 20000,
            "units": 20000,
            "activation": "softmax",
            "dtype": "float64",
        }
    ]
    write_entries(
        checkpoint, {"__denseops_config__": with_config({}, config)["__denseops_config__"]}
    )
    assert os.path.getsize(checkpoint) < 10_000
    assert "missing weights 'layer0/weight0'" in load_within_bounds(checkpoint)


def npy_header(shape, dtype):
    """The bytes of an npy file's header for an array of ``shape`` and ``dtype``."""
    import io

    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": np.dtype(dtype).str, "fortran_order": False, "shape": shape}
    )
    return buffer.getvalue()


def test_an_npy_header_declaring_more_than_its_entry_holds_is_refused_cheaply(checkpoint):
    # The entry claims a 20000 x 20000 kernel but holds 16 bytes of data.
    arrays = entries(checkpoint)
    config = config_of(arrays)
    config["layers"] = [
        {
            **config["layers"][0],
            "input_dim": 20000,
            "units": 20000,
            "use_bias": False,
            "activation": "softmax",
        }
    ]
    write_entries(
        checkpoint, {"__denseops_config__": with_config({}, config)["__denseops_config__"]}
    )
    with zipfile.ZipFile(checkpoint, "a") as archive:
        archive.writestr("layer0/weight0.npy", npy_header((20000, 20000), np.float32) + bytes(16))
    message = load_within_bounds(checkpoint)
    assert (
        "entry 'layer0/weight0' declares shape (20000, 20000) of float32 but holds 16 bytes"
        in message
    )


def test_a_compressed_extra_entry_is_refused_without_inflating_it(checkpoint):
    # 200 MB of zeros deflate to ~200 KB: reading the entry would inflate it.
    with (
        zipfile.ZipFile(
            checkpoint, "a", compression=zipfile.ZIP_DEFLATED, compresslevel=1
        ) as archive,
        archive.open("junk.npy", "w") as entry,
    ):
        zeros = bytes(1 << 20)
        for _ in range(200):
            entry.write(zeros)
    assert os.path.getsize(checkpoint) < 10 << 20
    assert "entry 'junk.npy' is compressed" in load_within_bounds(checkpoint)


def test_entries_declaring_more_bytes_than_the_file_holds_are_refused(checkpoint):
    # Overlapping entries (several names for the same bytes) or a lying directory:
    # make the zip directory declare 2 GB for one stored entry.
    content = bytearray(checkpoint.read_bytes())
    at = content.index(b"PK\x01\x02")  # the first central directory record
    struct.pack_into("<II", content, at + 20, 2**31, 2**31)  # compressed and real size
    checkpoint.write_bytes(bytes(content))
    message = load_within_bounds(checkpoint)
    assert re.search(r"entries declare \d+ bytes, more than the file's \d+", message), message


def test_a_huge_config_entry_is_refused_before_parsing(checkpoint):
    arrays = entries(checkpoint)
    config = config_of(arrays)
    config["padding"] = "x" * (2 << 20)  # 2 M characters: 8 MB as a NumPy unicode array
    write_entries(checkpoint, with_config(arrays, config))
    assert "entry '__denseops_config__' has" in load_within_bounds(checkpoint)


def test_a_failed_save_names_the_callers_path_not_a_temporary_file(data, checkpoint, monkeypatch):
    def replace_across_devices(src, dst):
        raise OSError(18, "Invalid cross-device link", src, dst)

    monkeypatch.setattr(os, "replace", replace_across_devices)
    with pytest.raises(OSError) as raised:
        trained(data).save(checkpoint)
    assert str(raised.value) == f"[Errno 18] Invalid cross-device link: '{checkpoint}'"
    assert ".tmp" not in str(raised.value)


@pytest.mark.parametrize("kind", ["elu", "leaky_relu"])
def test_a_negative_alpha_survives_save_and_load_with_its_exact_gradient(data, tmp_path, kind):
    def model_with(alpha):
        model = Sequential(
            [
                Dense(8, activation=nn.activations.ElementwiseActivation(kind, alpha=alpha)),
                Dense(CLASSES, activation="softmax"),
            ]
        )
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
        return model

    original = model_with(-0.5)
    original.fit(*data, epochs=1, batch_size=16, verbose=0, seed=0)
    original.save(tmp_path / "m.npz")
    loaded = nn.load_model(tmp_path / "m.npz")
    activation = loaded.layers[0].activation
    assert (activation.name, activation.alpha, activation.needs_input) == (kind, -0.5, True)
    # One more epoch on each gives the same weights: the same gradients.
    for model in (original, loaded):
        model.fit(*data, epochs=1, batch_size=16, verbose=0, seed=1)
    for a, b in zip(original.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
