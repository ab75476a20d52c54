"""Keras 3's own files, both ways: ``model.keras`` and ``model.weights.h5``.

A ``.keras`` file is a zip of ``metadata.json``, ``config.json`` (the model,
see ``keras_config``) and ``model.weights.h5`` (the variables, see
``keras_h5``); a ``.weights.h5`` file is that HDF5 part alone. Writing goes
through the checkpoint's atomic save (``serialization.save_file``).

Reading follows the checkpoint's rules (issue 12): nothing is extracted or
written anywhere (members are read into memory), and each part is checked
before the next is read: the zip directory (exactly the three known members,
no duplicates, no other paths, bounded sizes and compression ratios), the
JSON (capped), the config (everything denseops can express, see
``keras_config``), then the HDF5 member's size against what the config
declares, then its datasets' shapes, dtypes and storage, and only then the
numbers. Any failure is one ValueError naming the file.
"""

import datetime
import json
import math
import os
import zipfile

import numpy as np

from denseops.nn import keras_config, keras_h5
from denseops.nn.layers import Input
from denseops.nn.model import Sequential
from denseops.nn.serialization import open_regular_file, save_file

# The Keras release whose format this writes (Keras reads, and ignores, the
# metadata; the producer says who really wrote the file).
KERAS_VERSION = "3.15.1"
_CONFIG, _METADATA, _WEIGHTS = "config.json", "metadata.json", "model.weights.h5"
_JSON_MAX_BYTES = 4 << 20  # a config of thousands of layers is well under 1 MB
_MAX_RATIO = 100  # weights barely deflate; 100x is not real data
_RATIO_FLOOR = 1 << 20  # small members (configs, zero biases) may deflate further


# ------------------------------------------------------------------ writing


def save_model(model, path):
    """Writes ``model`` as Keras 3 writes a ``.keras`` file (``Sequential.save``)."""
    _require_built(model, "save()")
    config = json.dumps(keras_config.model_to_config(model))
    weights = keras_h5.write(*_variable_tree(model))
    metadata = json.dumps(
        {
            "keras_version": KERAS_VERSION,
            "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
            "producer": "denseops",
        }
    )

    def write(f):
        # Stored, not deflated, in Keras's member order, as Keras writes them.
        with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED) as archive:
            archive.writestr(_METADATA, metadata)
            archive.writestr(_CONFIG, config)
            archive.writestr(_WEIGHTS, weights)

    save_file(path, write)


def save_weights(model, path):
    """Writes the variables of ``model`` as Keras 3's ``save_weights`` does."""
    _require_built(model, "save_weights()")
    weights = keras_h5.write(*_variable_tree(model))
    save_file(path, lambda f: f.write(weights))


def _require_built(model, method):
    if not model.built:
        raise ValueError(f"{method} needs a built model: fit it or build(input_shape) first")


def _variable_tree(model):
    """({h5 path: [arrays]}, {h5 path: name}) in Keras's layout; the optimizer's
    variables are its iteration count, learning rate, then each weight's slots."""
    tree, names = {}, {"": model.name}
    for key, layer in zip(keras_config.h5_keys(model.layers), model.layers):
        tree[f"layers/{key}"] = list(layer.weights)
        names[f"layers/{key}"] = layer.name
    optimizer = model.optimizer
    if optimizer is not None and model.loss is not None:
        variables = [np.array(optimizer.iterations, np.int64)]
        variables.append(np.array(optimizer.learning_rate, np.float32))
        # An optimizer not built yet has the zero state it would start from.
        state = optimizer.state or [
            {slot: np.zeros_like(w) for slot in optimizer.get_slot_names()} for w in model.weights
        ]
        for slots in state:
            variables.extend(slots[slot] for slot in optimizer.get_slot_names())
        tree["optimizer"] = variables
        names["optimizer"] = optimizer.name
    tree[""] = []
    return tree, names


# ------------------------------------------------------------------ reading


def load_model(path):
    """Reads a ``.keras`` file written by Keras 3 (or by ``save``) into a Sequential.

    Raises:
        FileNotFoundError, IsADirectoryError: as ``open`` would.
        ImportError: h5py is missing (the extra denseops[keras]).
        ValueError: the file is not a readable ``.keras`` file, or describes a
            model denseops cannot express; the message names the file and the
            layer or setting.
    """
    keras_h5.require_h5py()
    path = os.fspath(path)
    with open_regular_file(path) as f:
        try:
            return _load(f)
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from None


def _load(f):
    archive = _open_archive(f)
    config = _read_json(archive, _CONFIG)
    if _METADATA in archive.namelist():
        _read_json(archive, _METADATA)  # Keras does not use it either: checked, not read
    plan = keras_config.model_from_config(config)
    expected = _layer_datasets(plan.layers, plan.weight_shapes)
    if plan.compile is not None:
        optimizer_class, arguments = plan.compile["optimizer"]
        slots = optimizer_class(**arguments).get_slot_names()
        expected.update(_optimizer_datasets(slots, plan.weight_shapes))
    data = _read_member(archive, _WEIGHTS, _h5_limit(expected))
    arrays = keras_h5.read(data, expected)
    model = Sequential([Input(shape=plan.input_shape, dtype=plan.dtype.name), *plan.layers])
    model.name = plan.name
    model.build()
    _set_weights(model, arrays)
    if plan.compile is not None:
        _compile(model, plan.compile, arrays)
    return model


def _open_archive(f):
    try:
        archive = zipfile.ZipFile(f)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as error:
        raise ValueError(f"not a readable .keras file ({error})") from None
    seen = set()
    for info in archive.infolist():
        name = info.filename
        if name in seen:
            raise ValueError(f"member {name!r} appears twice")
        seen.add(name)
        if name not in (_CONFIG, _METADATA, _WEIGHTS):
            unsafe = name.startswith("/") or ".." in name.split("/") or "\\" in name
            raise ValueError(
                f"member {name!r} {'has an unsafe path and ' if unsafe else ''}is not part of "
                f"a Keras model of Dense layers (expected {_CONFIG}, {_METADATA}, {_WEIGHTS})"
            )
        if info.flag_bits & 0x1:
            raise ValueError(f"member {name!r} is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise ValueError(f"member {name!r} uses compression method {info.compress_type}")
        if info.file_size > max(_MAX_RATIO * info.compress_size, _RATIO_FLOOR):
            raise ValueError(
                f"member {name!r} inflates {info.compress_size} bytes to {info.file_size}, "
                f"more than {_MAX_RATIO} times: not real data"
            )
    for name in (_CONFIG, _WEIGHTS):
        if name not in seen:
            raise ValueError(f"not a Keras model file (no {name})")
    return archive


def _read_member(archive, name, limit):
    """The bytes of member ``name``, refused unpacked if it declares more than ``limit``."""
    info = archive.getinfo(name)
    if info.file_size > limit:
        raise ValueError(
            f"member {name!r} has {info.file_size} bytes, more than the {limit} "
            "that the model's config accounts for"
        )
    try:
        with archive.open(info) as stream:
            data = stream.read(limit + 1)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as error:
        raise ValueError(f"member {name!r} is damaged ({error})") from None
    if len(data) != info.file_size:
        raise ValueError(f"member {name!r} holds {len(data)} bytes, not {info.file_size}")
    return data


def _read_json(archive, name):
    data = _read_member(archive, name, _JSON_MAX_BYTES)
    try:
        value = json.loads(data)
    except (ValueError, RecursionError) as error:
        raise ValueError(f"{name} is not valid JSON ({error})") from None
    if not isinstance(value, dict):
        raise ValueError(f"{name} must hold a JSON object; it holds {type(value).__name__}")
    return value


def _h5_limit(expected):
    """The most bytes an HDF5 file of ``expected`` datasets may take: their data
    (at 8 bytes a number, the widest accepted), plus HDF5's own structures
    (superblock, a header per group and dataset)."""
    data = sum(int(np.prod(e.shape, dtype=object)) * 8 for e in expected.values())
    return data + (64 << 10) + 4096 * 2 * (len(expected) + 4)


# Keras writes the variables of a float64 model as float32 (and casts them
# back when loading): either is accepted, and cast to the model's dtype.
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _layer_datasets(layers, weight_shapes):
    expected = {}
    for key, layer, shapes in zip(keras_config.h5_keys(layers), layers, weight_shapes):
        for j, shape in enumerate(shapes):
            expected[f"layers/{key}/vars/{j}"] = keras_h5.Expected(
                shape, _FLOATS, owner=f" (layer {layer.name!r})"
            )
    return expected


def _optimizer_datasets(slots, weight_shapes, required=True):
    """The optimizer's datasets in Keras's order: the iteration count, the
    learning rate, then each weight's slots (absent for an optimizer Keras
    never built, whose state starts at zero)."""
    expected = {
        "optimizer/vars/0": keras_h5.Expected(
            (), kinds="iu", owner=" (the iteration count)", optional=not required
        ),
        "optimizer/vars/1": keras_h5.Expected(
            (), kinds="f", owner=" (the learning rate)", optional=not required
        ),
    }
    i = 2
    for shapes in weight_shapes:
        for shape in shapes:
            for slot in slots:
                expected[f"optimizer/vars/{i}"] = keras_h5.Expected(
                    shape, _FLOATS, owner=f" (optimizer slot {slot!r})", optional=True
                )
                i += 1
    return expected


def _set_weights(model, arrays):
    for target, value in zip(model.weights, _in_layer_order(model, arrays)):
        target[...] = value


def _in_layer_order(model, arrays):
    for key, layer in zip(keras_config.h5_keys(model.layers), model.layers):
        for j in range(len(layer.weights)):
            yield arrays[f"layers/{key}/vars/{j}"]


def _compile(model, settings, arrays):
    optimizer_class, arguments = settings["optimizer"]
    try:
        optimizer = optimizer_class(**arguments)
    except (TypeError, ValueError) as error:
        raise ValueError(f"the optimizer: {error}") from None
    model.compile(
        optimizer=optimizer,
        loss=settings["loss"],
        metrics=settings["metrics"],
        weighted_metrics=settings["weighted_metrics"],
    )
    _restore_optimizer(model, arrays)


def _restore_optimizer(model, arrays):
    """Sets the optimizer's variables from ``arrays`` (nothing if the file has
    none); everything is checked before anything changes."""
    if "optimizer/vars/0" not in arrays:
        return
    optimizer = model.optimizer
    iterations = int(arrays["optimizer/vars/0"])
    # The variable wins over the config's learning rate, as in Keras.
    learning_rate = float(arrays["optimizer/vars/1"])
    if iterations < 0 or not (math.isfinite(learning_rate) and learning_rate > 0):
        raise ValueError(
            f"the optimizer's iteration count {iterations} and learning rate {learning_rate} "
            "must be >= 0 and > 0"
        )
    stored = sorted(
        (p for p in arrays if p.startswith("optimizer/vars/") and int(p.rsplit("/", 1)[1]) >= 2),
        key=lambda p: int(p.rsplit("/", 1)[1]),
    )
    slots = optimizer.get_slot_names()
    expected_count = len(slots) * len(model.weights)
    if stored and len(stored) != expected_count:
        raise ValueError(
            f"the optimizer state is partial: {len(stored)} of {expected_count} slot arrays"
        )
    optimizer.learning_rate, optimizer.iterations = learning_rate, iterations
    optimizer.build(model.weights)  # zeros: the state of a file without slots
    values = iter(arrays[p] for p in stored)
    for state in optimizer.state if stored else []:
        for slot in slots:
            state[slot][...] = next(values)


def load_weights(model, path):
    """Reads a ``.weights.h5`` file (Keras 3's ``save_weights``) into ``model``.

    The layers' weights are restored, and, for a compiled model, the
    optimizer's variables the file holds (as Keras does: all of them, or
    none, which restarts the optimizer; a file of another optimizer is
    refused). An uncompiled model ignores them.

    Raises:
        ValueError: the file does not fit the model's layers; nothing is
            changed then. The message names the file and the dataset.
    """
    keras_h5.require_h5py()
    path = os.fspath(path)
    shapes = [[w.shape for w in layer.weights] for layer in model.layers]
    expected = _layer_datasets(model.layers, shapes)
    # Room for the optimizer's variables too (up to two slots per weight, Adam's).
    limit = _h5_limit(expected) + 2 * sum(w.nbytes for w in model.weights) + (64 << 10)
    with open_regular_file(path) as f:
        size = os.fstat(f.fileno()).st_size
        if size > limit:
            raise ValueError(
                f"{path}: has {size} bytes, more than the {limit} that the model's weights "
                "account for"
            )
        data = f.read(limit + 1)
    compiled = model.optimizer is not None and model.loss is not None
    if compiled:
        slots = model.optimizer.get_slot_names()
        expected.update(_optimizer_datasets(slots, shapes, required=False))
    try:
        arrays = keras_h5.read(data, expected, ignore=() if compiled else ("optimizer",))
        if compiled:
            _restore_optimizer(model, arrays)  # checks all before changing anything
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None
    _set_weights(model, arrays)
