"""One-file checkpoints: architecture, weights and optimizer state in a .npz.

Saving never destroys the previous file: the archive is written to a
temporary file in the same folder, flushed and fsynced, then renamed over
the target with os.replace (atomic on POSIX and Windows). Where Linux's
O_TMPFILE is available the temporary file has no name while it is written,
so even a process killed mid-save leaves nothing behind. A symlink is
written through, as open() would: its target file is replaced (a dangling
link's target is created); a path that is a directory, a FIFO, a device or
anything else that is not a regular file is refused.

Loading trusts nothing in the file. Each part is checked before the next is
read and before anything is allocated from it: the file itself (a regular
file), the zip directory (only uncompressed entries that fit in the file),
the config (small, JSON, the known schema), then the entries the config
implies (exactly those, each npy header matching the shape and dtype the
architecture needs) and only then the array data. Any failure is one
ValueError naming the file, so a crafted file costs at most about its own
size in memory.
"""

import errno
import json
import os
import stat
import tempfile
import uuid
import zipfile

import numpy as np

from denseops import npz_entries
from denseops.nn import activations, losses, optimizers, regularizers
from denseops.nn import metrics as metrics_module
from denseops.nn.layers import Activation, Dense, Dropout, Flatten, Reshape
from denseops.nn.model import Sequential
from denseops.nn.normalization import BatchNormalization, LayerNormalization

FORMAT = "denseops.Sequential"
VERSION = 1
WEIGHTS_FORMAT = "denseops.weights"
_CONFIG_KEY = "__denseops_config__"
_CONFIG_MAX_BYTES = 4 << 20  # a model of thousands of layers needs well under 1 MB


def save_model(model, path):
    """Writes ``model`` to ``path``: Keras's format for a ``.keras`` name, else
    the denseops checkpoint (any other name; ``.npz`` is customary)."""
    if is_keras_file(path):
        from denseops.nn import keras_format

        return keras_format.save_model(model, path)
    if not model.built:
        raise ValueError("save() needs a built model: fit it or build(input_dim) first")
    config = {
        "format": FORMAT,
        "version": VERSION,
        "name": model.name,
        "layers": [_layer_config(layer) for layer in model.layers],
        "loss": _loss_config(model.loss) if model.loss else None,
        "metrics": [metrics_module.serialize(m) for m in model.metrics],
        "weighted_metrics": [metrics_module.serialize(m) for m in model.weighted_metrics],
        "optimizer": _optimizer_config(model.optimizer) if model.optimizer else None,
        "optimizer_iterations": model.optimizer.iterations if model.optimizer else 0,
    }
    arrays = {_CONFIG_KEY: np.array(json.dumps(config))}
    for i, layer in enumerate(model.layers):
        for j, w in enumerate(layer.weights):
            arrays[f"layer{i}/weight{j}"] = w
    if model.optimizer is not None:
        for i, slots in enumerate(model.optimizer.state):
            for key, value in slots.items():
                arrays[f"optimizer/{i}/{key}"] = value
    _save_arrays(path, arrays)


# What save() can write is what load() can rebuild: anything else (a custom
# layer, activation, loss, metric or optimizer class) is refused when saving,
# with the reason, rather than written and found unreadable later.


def _layer_config(layer):
    if type(layer).__name__ not in _LAYER_READERS or type(layer) not in (
        Dense,
        Dropout,
        Activation,
        Flatten,
        Reshape,
        BatchNormalization,
        LayerNormalization,
    ):
        raise ValueError(
            f"Cannot save layer {layer.name!r} of class {type(layer).__name__}: "
            f"load() can restore {sorted(_LAYER_READERS)} only"
        )
    return layer.get_config()


def _loss_config(loss):
    config = loss.get_config()
    if type(loss) is not losses._CLASSES.get(config.get("class")):
        raise ValueError(
            f"Cannot save loss {loss!r} of class {type(loss).__name__}: load() can "
            f"restore {sorted(losses._CLASSES)} only"
        )
    return config


def _optimizer_config(optimizer):
    if type(optimizer) is not optimizers._BY_NAME.get(optimizer.name):
        raise ValueError(
            f"Cannot save optimizer {optimizer!r} of class "
            f"{type(optimizer).__name__}: load() can restore "
            f"{sorted(optimizers._BY_NAME)} only"
        )
    return optimizer.get_config()


def is_keras_file(path):
    """Whether ``path`` names a Keras model file (``.keras``), as Keras decides it."""
    return os.fspath(path).endswith(".keras")


def is_keras_weights_file(path):
    """Whether ``path`` names a Keras weights file (``.weights.h5``)."""
    return os.fspath(path).endswith(".weights.h5")


def save_weights(model, path):
    """Writes only the weights of ``model`` (``Sequential.save_weights``): Keras's
    HDF5 layout for a ``.weights.h5`` name, else a denseops ``.npz``."""
    if is_keras_weights_file(path):
        from denseops.nn import keras_format

        return keras_format.save_weights(model, path)
    if not model.built:
        raise ValueError("save_weights() needs a built model: fit it or build it first")
    shapes = [list(w.shape) for w in model.weights]
    config = {
        "format": WEIGHTS_FORMAT,
        "version": VERSION,
        "shapes": shapes,
        "dtype": model.dtype.name,
    }
    arrays = {_CONFIG_KEY: np.array(json.dumps(config))}
    for i, w in enumerate(model.weights):
        arrays[f"weight{i}"] = w
    _save_arrays(path, arrays)


def load_weights(model, path):
    """Reads weights written by ``save_weights`` into ``model`` (same architecture).

    Raises:
        ValueError: the file is not a weights file, or its weights do not fit
            the model (count, shapes or dtype); nothing is changed then.
    """
    if not model.built:
        raise ValueError("load_weights() needs a built model: build it with its input shape first")
    if is_keras_weights_file(path):
        from denseops.nn import keras_format

        return keras_format.load_weights(model, path)
    path = os.fspath(path)
    with open_regular_file(path) as f:
        try:
            archive = _open_archive(f)
            config = _read_config(archive, WEIGHTS_FORMAT)
            expected = {
                f"weight{i}": (w.shape, w.dtype, "of the model")
                for i, w in enumerate(model.weights)
            }
            stored = _require(config, "config", "shapes", list)
            if len(stored) != len(expected):
                raise _Malformed(
                    f"holds {len(stored)} weight arrays; the model has {len(expected)}"
                )
            _check_entries(archive, expected)
            arrays = [_read_array(archive, key) for key in expected]
        except _Malformed as error:
            raise ValueError(f"{path}: {error}") from None
    for w, value in zip(model.weights, arrays):
        w[...] = value


def _save_arrays(path, arrays):
    save_file(path, lambda f: np.savez(f, **arrays))


def save_file(path, write):
    """Replaces ``path`` atomically by a file that ``write(f)`` fills (see the module doc)."""
    path = os.fspath(path)
    try:
        _write_atomically(_save_target(path), write)
    except OSError as error:
        # A temporary file's name means nothing to the caller: name their path.
        if error.filename is None or error.filename == path or error.errno is None:
            raise
        raise type(error)(error.errno, error.strerror, path) from None


def _save_target(path):
    """The regular file that saving to ``path`` replaces (through symlinks).

    Raises:
        IsADirectoryError: ``path`` is (or links to) a directory.
        ValueError: ``path`` is (or links to) a FIFO, device, socket...
    """
    target = os.path.realpath(path) if os.path.islink(path) else path
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        return target  # a new file (or a dangling link's target, created like open() does)
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, "save() needs a file path, not a directory", path)
    if not stat.S_ISREG(mode):
        raise ValueError(
            f"{path}: is {_kind(mode)}, not a regular file; save() replaces "
            "only regular files (or writes a new one)"
        )
    return target


def _kind(mode):
    for test, name in (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISDIR, "a directory"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def _write_atomically(path, write):
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = _open_temporary(folder)
    try:
        os.fchmod(fd, _file_mode(path))  # temporary files start as 0600
        with os.fdopen(fd, "wb", closefd=False) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        if tmp is None:  # unnamed: give it a name only now, just before the rename
            tmp = os.path.join(folder, f".denseops-{uuid.uuid4().hex}.tmp")
            _link_unnamed(fd, folder, tmp)
        os.replace(tmp, path)
        tmp = None
    finally:
        os.close(fd)
        if tmp is not None:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass


def _link_unnamed(fd, folder, name):
    """Gives the O_TMPFILE file ``fd`` the path ``name``.

    linkat(AT_SYMLINK_FOLLOW) on /proc/self/fd/N is the unprivileged way;
    os.link only calls linkat (rather than link, which would try to link the
    /proc symlink itself) when a dir_fd is passed.
    """
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.link(
            f"/proc/self/fd/{fd}", os.path.basename(name), dst_dir_fd=dir_fd, follow_symlinks=True
        )
    finally:
        os.close(dir_fd)


def unnamed_temporaries_supported(folder):
    """Whether ``folder``'s file system gives files that vanish if the writer dies."""
    fd, tmp = _open_temporary(os.fspath(folder))
    os.close(fd)
    if tmp is not None:
        os.unlink(tmp)
    return tmp is None


def _open_temporary(folder):
    """(fd, None) for an unnamed O_TMPFILE file, else (fd, name) from mkstemp."""
    if hasattr(os, "O_TMPFILE") and os.path.isdir("/proc/self/fd"):
        try:
            return os.open(folder, os.O_TMPFILE | os.O_WRONLY, 0o600), None
        except OSError:
            pass  # not supported by this file system: fall back to a named file
    return tempfile.mkstemp(prefix=".denseops-", suffix=".tmp", dir=folder)


def _file_mode(path):
    """The mode the file would get from open(): the old file's, else 0666 & ~umask."""
    try:
        return os.stat(path).st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


# ------------------------------------------------------------------ loading


class _Malformed(ValueError):
    """A problem with the file's content; ``load`` prefixes the path."""


def load(path):
    """Reads a model written by ``Sequential.save``; compiled again if it was compiled.

    A ``.keras`` file is read as Keras 3 writes it (``keras_format.load_model``).

    Raises:
        FileNotFoundError: nothing at ``path``.
        IsADirectoryError: ``path`` is a directory.
        ValueError: ``path`` is not a regular file (a FIFO, a device...), or
            the file is truncated, of another format or version, holds
            entries the architecture does not need or lacks some it needs,
            or its weights or optimizer state do not fit the architecture.
            The message names the file and what is wrong.
    """
    if is_keras_file(path):
        from denseops.nn import keras_format

        return keras_format.load_model(path)
    path = os.fspath(path)
    with open_regular_file(path) as f:
        try:
            return _load_checkpoint(f)
        except _Malformed as error:
            raise ValueError(f"{path}: {error}") from None


def open_regular_file(path):
    # O_NONBLOCK: opening a FIFO with no writer must not hang before fstat can refuse it.
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(
                errno.EISDIR, "load() needs a model file, not a directory", path
            )
        if not stat.S_ISREG(mode):
            raise ValueError(
                f"{path}: is {_kind(mode)}, not a regular file; load() reads model files only"
            )
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb")


def _load_checkpoint(f):
    archive = _open_archive(f)
    config = _read_config(archive)
    layers, weight_entries, input_shape = _layers_from_config(config)
    loss, optimizer, metrics, weighted_metrics, iterations = _training_from_config(config)
    # The optimizer keeps state for the trainable weights only: BatchNormalization's
    # moving statistics (the last two of its entries) have none.
    trainable = _trainable_entries(layers, weight_entries)
    state_entries = _optimizer_state_entries(archive, optimizer, trainable)
    _check_entries(archive, {**weight_entries, **state_entries})

    model = Sequential(layers, name=config["name"])
    try:
        model.build((None, *input_shape))
    except (ValueError, TypeError) as error:
        raise _Malformed(f"layers do not fit together ({error})") from None
    for key, w in zip(weight_entries, model.weights):
        w[...] = _read_array(archive, key)
    if loss is not None:
        try:
            model.compile(
                optimizer=optimizer, loss=loss, metrics=metrics, weighted_metrics=weighted_metrics
            )
        except (ValueError, TypeError) as error:
            raise _Malformed(f"the training config does not fit the layers ({error})") from None
        if state_entries:
            optimizer.build(model.trainable_weights)
            for i, slots in enumerate(optimizer.state):
                for key, value in slots.items():
                    value[...] = _read_array(archive, f"optimizer/{i}/{key}")
        optimizer.iterations = iterations
    return model


# Step 1: the zip directory. np.savez stores entries uncompressed, so a valid
# checkpoint's entries add up to less than the file: refusing compressed or
# overlapping entries bounds what reading can ever allocate by the file's size.


def _open_archive(f):
    try:
        archive = zipfile.ZipFile(f)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as error:
        raise _Malformed(f"not a readable denseops model file ({error})") from None
    file_size = os.fstat(f.fileno()).st_size
    names, total = set(), 0
    for info in archive.infolist():
        if info.filename in names:
            raise _Malformed(f"entry {info.filename!r} appears twice")
        names.add(info.filename)
        if info.compress_type != zipfile.ZIP_STORED or info.compress_size != info.file_size:
            raise _Malformed(
                f"entry {info.filename!r} is compressed; denseops model files "
                "store arrays uncompressed (np.savez)"
            )
        total += info.file_size
    if total > file_size:
        raise _Malformed(f"its entries declare {total} bytes, more than the file's {file_size}")
    return archive


def _entry_name(key):
    return key + ".npy"


def _open_npy(archive, key, max_bytes=None):
    """(stream, shape, fortran_order, dtype) of entry ``key``, its sizes checked."""
    try:
        return npz_entries.open_npy(archive, _entry_name(key), max_bytes=max_bytes)
    except ValueError as error:
        raise _Malformed(str(error)) from None


def _read_array(archive, key):
    """The array of entry ``key`` (its header already checked by ``_check_entries``)."""
    try:
        return npz_entries.read_npy(archive, _entry_name(key))
    except ValueError as error:
        raise _Malformed(str(error)) from None


# Step 2: the config, a JSON string, small by construction.


def _read_config(archive, expected_format=FORMAT):
    if _entry_name(_CONFIG_KEY) not in archive.namelist():
        raise _Malformed(f"not a denseops model file (no {_CONFIG_KEY} entry)")
    stream, shape, _, dtype = _open_npy(archive, _CONFIG_KEY, max_bytes=_CONFIG_MAX_BYTES)
    stream.close()
    if shape != () or dtype.kind != "U":
        raise _Malformed(
            f"{_CONFIG_KEY} must be a string; it is an array of shape {shape} and dtype {dtype}"
        )
    try:
        config = json.loads(str(_read_array(archive, _CONFIG_KEY)))
    except (ValueError, RecursionError) as error:
        raise _Malformed(f"{_CONFIG_KEY} is not valid JSON ({error})") from None
    if not isinstance(config, dict):
        raise _Malformed(f"{_CONFIG_KEY} must be a JSON object; it is {type(config).__name__}")
    if config.get("format") != expected_format or config.get("version") != VERSION:
        hint = ""
        if config.get("format") == WEIGHTS_FORMAT:
            hint = "; this file holds weights only: use model.load_weights()"
        elif config.get("format") == FORMAT:
            hint = "; this file holds a whole model: use denseops.nn.load()"
        raise _Malformed(
            f"expected format {expected_format!r} version {VERSION}, got "
            f"{config.get('format')!r} version {config.get('version')!r}{hint}"
        )
    if expected_format != FORMAT:
        return config
    _require(config, "config", "name", (str, type(None)))
    _require(config, "config", "layers", list)
    if not config["layers"]:
        raise _Malformed("the config lists no layers")
    return config


def _require(mapping, where, key, types):
    """``mapping[key]``, or a _Malformed naming ``where`` unless it is one of ``types``."""
    if not isinstance(mapping, dict) or key not in mapping:
        raise _Malformed(f"{where} has no {key!r}")
    value = mapping[key]
    if not isinstance(value, types) or (isinstance(value, bool) and bool not in _tuple(types)):
        names = " or ".join(t.__name__ for t in _tuple(types))
        raise _Malformed(f"{where}: {key!r} must be {names}. Received: {value!r:.100}")
    return value


def _tuple(types):
    return types if isinstance(types, tuple) else (types,)


# Step 3: the layers, built from their configs without weights, and the
# entries (name -> shape, dtype) their weights must have in the file. A new
# layer kind adds one reader to _LAYER_READERS: it gets the layer's config
# and its input size, and returns the unbuilt layer, the shapes of its
# weights (in the order of layer.weights) and its output size.


def _dense_from_config(config, where, shape):
    """(layer, [weight shapes], output sample shape) for a Dense config."""
    if len(shape) != 1:
        raise _Malformed(f"{where}: a Dense layer after samples of shape {shape}")
    (input_dim,) = shape
    if _require(config, where, "input_dim", int) != input_dim:
        raise _Malformed(
            f"{where}: input_dim is {config['input_dim']}, expected {input_dim}, "
            "the previous layer's output"
        )
    units = _require(config, where, "units", int)
    use_bias = _require(config, where, "use_bias", bool)
    activation = _require(config, where, "activation", (str, dict, type(None)))
    if isinstance(activation, dict):
        _require(activation, f"{where} activation", "name", str)
        _require(activation, f"{where} activation", "alpha", (int, float))
    # Files from before regularizers existed have no such keys: None.
    kernel_regularizer = _regularizer(config.get("kernel_regularizer"), where)
    bias_regularizer = _regularizer(config.get("bias_regularizer"), where)
    layer = Dense(
        units,
        activation=activations.deserialize(activation),
        use_bias=use_bias,
        dtype=_require(config, where, "dtype", str),
        kernel_regularizer=kernel_regularizer,
        bias_regularizer=bias_regularizer,
        name=_require(config, where, "name", (str, type(None))),
    )
    return layer, [(input_dim, units)] + ([(units,)] if use_bias else []), (units,)


def _regularizer(config, where):
    if config is None:
        return None
    if not isinstance(config, dict):
        raise _Malformed(f"{where}: a regularizer must be a JSON object. Received: {config!r:.100}")
    return regularizers.deserialize(config)


def _dropout_from_config(config, where, shape):
    """(layer, [], output_dim) for a Dropout config; its generator resumes where it was."""
    layer = Dropout(
        _require(config, where, "rate", (int, float)),
        seed=_require(config, where, "seed", int),
        name=_require(config, where, "name", (str, type(None))),
    )
    calls = _require(config, where, "calls", int)
    if calls < 0:
        raise _Malformed(f"{where}: calls must be >= 0. Received: {calls}")
    layer.calls = calls
    return layer, [], shape


def _activation_from_config(config, where, shape):
    """(layer, [], output_dim) for an Activation layer's config."""
    activation = _require(config, where, "activation", (str, dict, type(None)))
    if isinstance(activation, dict):
        _require(activation, f"{where} activation", "name", str)
        _require(activation, f"{where} activation", "alpha", (int, float))
    layer = Activation(
        activations.deserialize(activation), name=_require(config, where, "name", (str, type(None)))
    )
    return layer, [], shape


def _flatten_from_config(config, where, shape):
    """(layer, [], output sample shape) for a Flatten config."""
    layer = Flatten(name=_require(config, where, "name", (str, type(None))))
    return layer, [], (int(np.prod(shape)),)


def _reshape_from_config(config, where, shape):
    """(layer, [], output sample shape) for a Reshape config."""
    target = _require(config, where, "target_shape", list)
    if len(target) > 8:
        raise _Malformed(f"{where}: target_shape has {len(target)} axes, at most 8 expected")
    layer = Reshape(tuple(target), name=_require(config, where, "name", (str, type(None))))
    return layer, [], layer.build_shape(shape, np.float32, None)


def _normalization_from_config(config, where, shape):
    """(layer, [weight shapes], output sample shape) for a BatchNormalization or
    LayerNormalization config: gamma, beta (if kept), then BatchNormalization's
    moving mean and variance, each (features,)."""
    if len(shape) != 1:
        raise _Malformed(f"{where}: a normalization layer after samples of shape {shape}")
    (input_dim,) = shape
    if _require(config, where, "input_dim", int) != input_dim:
        raise _Malformed(
            f"{where}: input_dim is {config['input_dim']}, expected {input_dim}, "
            "the previous layer's output"
        )
    cls = BatchNormalization if config["class"] == "BatchNormalization" else LayerNormalization
    arguments = {
        "axis": _require(config, where, "axis", int),
        "epsilon": _require(config, where, "epsilon", (int, float)),
        "center": _require(config, where, "center", bool),
        "scale": _require(config, where, "scale", bool),
        "beta_regularizer": _regularizer(config.get("beta_regularizer"), where),
        "gamma_regularizer": _regularizer(config.get("gamma_regularizer"), where),
        "name": _require(config, where, "name", (str, type(None))),
    }
    if cls is BatchNormalization:
        arguments["momentum"] = _require(config, where, "momentum", (int, float))
    layer = cls(**arguments)
    # Its weights come from the file, in the dtype the model had.
    layer.dtype = np.dtype(_require(config, where, "dtype", str))
    count = layer.scale + layer.center + (2 if cls is BatchNormalization else 0)
    return layer, [(input_dim,)] * count, (input_dim,)


_LAYER_READERS = {
    "Dense": _dense_from_config,
    "Dropout": _dropout_from_config,
    "Activation": _activation_from_config,
    "Flatten": _flatten_from_config,
    "Reshape": _reshape_from_config,
    "BatchNormalization": _normalization_from_config,
    "LayerNormalization": _normalization_from_config,
}


def _input_shape_from_config(first):
    """One input sample's shape: the first layer's input_shape, or (input_dim,)
    (files written before shapes were saved hold input_dim only)."""
    if "input_shape" in first:
        shape = _require(first, "layer 0 config", "input_shape", list)
        if (
            not shape
            or len(shape) > 8
            or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in shape)
        ):
            raise _Malformed(
                f"layer 0 config: input_shape is {shape!r:.100}, expected 1 to 8 positive integers"
            )
        return tuple(shape)
    size = _require(first, "layer 0 config", "input_dim", int)
    if size < 1:
        raise _Malformed(f"layer 0 config: input_dim is {size}, expected a positive integer")
    return (size,)


def _layers_from_config(config):
    input_shape = _input_shape_from_config(config["layers"][0])
    size = input_shape  # one sample's shape, carried from layer to layer
    layers, entries = [], {}
    for i, layer_config in enumerate(config["layers"]):
        where = f"layer {i} config"
        kind = _require(layer_config, where, "class", str)
        if kind not in _LAYER_READERS:
            raise _Malformed(
                f"unknown layer class {kind!r}; expected one of {sorted(_LAYER_READERS)}"
            )
        try:
            layer, shapes, size = _LAYER_READERS[kind](layer_config, where, size)
        except _Malformed:
            raise
        except (ValueError, TypeError) as error:  # the layer's own argument checks
            raise _Malformed(f"{where}: {error}") from None
        layers.append(layer)
        # build() gives every layer the dtype of the first layer with weights.
        dtype = next((lay.dtype for lay in layers if isinstance(lay, Dense)), layers[0].dtype)
        for j, shape in enumerate(shapes):
            entries[f"layer{i}/weight{j}"] = (shape, dtype, f"of layer {layer.name!r}")
    return layers, entries, input_shape


def _trainable_entries(layers, entries):
    """The entries of the trainable weights, in the model's trainable_weights order."""
    frozen = {
        f"layer{i}/weight{j}"
        for i, layer in enumerate(layers)
        if isinstance(layer, BatchNormalization)
        for j in range(layer.scale + layer.center, layer.scale + layer.center + 2)
    }
    return {key: value for key, value in entries.items() if key not in frozen}


# Step 4: loss, metrics and optimizer (uncompiled models have none).


def _training_from_config(config):
    loss_config = config.get("loss")
    if loss_config is None:
        return None, None, [], [], 0
    try:
        _require(loss_config, "loss config", "name", str)
        loss = losses.from_config(loss_config)
    except (ValueError, TypeError) as error:
        raise _Malformed(f"loss config {loss_config!r:.200}: {error}") from None
    try:
        metrics = [
            metrics_module.deserialize(m) for m in _require(config, "config", "metrics", list)
        ]
        # Files from before weighted_metrics have none.
        weighted = config.get("weighted_metrics", [])
        if not isinstance(weighted, list):
            raise ValueError(f"'weighted_metrics' must be list. Received: {weighted!r:.100}")
        weighted_metrics = [metrics_module.deserialize(m) for m in weighted]
    except (ValueError, TypeError) as error:
        raise _Malformed(f"metrics config: {error}") from None
    optimizer_config = _require(config, "config", "optimizer", dict)
    try:
        optimizer = optimizers.from_config(optimizer_config)
    except (KeyError, TypeError, ValueError) as error:
        raise _Malformed(
            f"optimizer config {optimizer_config!r:.200} is not valid "
            f"({type(error).__name__}: {error})"
        ) from None
    iterations = _require(config, "config", "optimizer_iterations", int)
    if iterations < 0:
        raise _Malformed(f"optimizer_iterations must be >= 0. Received: {iterations}")
    return loss, optimizer, metrics, weighted_metrics, iterations


# Step 5: the optimizer state, all of it or none (a fresh optimizer): the
# keys each weight needs are those the optimizer itself would create.


def _optimizer_state_entries(archive, optimizer, weight_entries):
    stored = [n[: -len(".npy")] for n in archive.namelist() if n.startswith("optimizer/")]
    if optimizer is None or not stored:
        return {}
    entries = {}
    for i, (shape, dtype, _) in enumerate(weight_entries.values()):
        for key in optimizer.get_slot_names():
            entries[f"optimizer/{i}/{key}"] = (shape, dtype, "")
    missing = [key for key in entries if key not in stored]
    if missing:
        raise _Malformed(
            f"optimizer state is partial: {len(stored)} entries, missing {_listing(missing)}"
        )
    return entries


def _listing(keys, limit=5):
    shown = ", ".join(repr(k) for k in keys[:limit])
    return shown + (f" and {len(keys) - limit} more" if len(keys) > limit else "")


# Step 6: exactly the expected entries, each header matching before any data is read.


def _check_entries(archive, expected):
    present = {n[: -len(".npy")] if n.endswith(".npy") else n for n in archive.namelist()}
    present.discard(_CONFIG_KEY)
    unexpected = sorted(present - set(expected))
    if unexpected:
        raise _Malformed(
            f"unexpected entries {_listing(unexpected)}: the architecture does not use them"
        )
    for key, (shape, dtype, owner) in expected.items():
        if key not in present:
            what = "optimizer state" if key.startswith("optimizer/") else "weights"
            raise _Malformed(f"missing {what} {key!r}")
        stream, got_shape, _, got_dtype = _open_npy(archive, key)
        stream.close()
        if got_shape != tuple(shape) or got_dtype != dtype:
            if key.startswith("optimizer/"):
                what, got, wanted = (
                    ("shape", got_shape, tuple(shape))
                    if got_shape != tuple(shape)
                    else ("dtype", got_dtype, dtype)
                )
                raise _Malformed(f"optimizer state {key!r} has {what} {got}, expected {wanted}")
            raise _Malformed(
                f"weights {key!r} {owner} have shape {got_shape} and dtype "
                f"{got_dtype}; the architecture needs {tuple(shape)} {dtype}"
            )
