"""One-file checkpoints: architecture, weights and optimizer state in a .npz.

Saving never destroys the previous file: the archive is written to a
temporary file in the same folder, flushed and fsynced, then renamed over
the target with os.replace (atomic on POSIX and Windows). Where Linux's
O_TMPFILE is available the temporary file has no name while it is written,
so even a process killed mid-save leaves nothing behind.
"""

import json
import os
import tempfile
import uuid
import zipfile

import numpy as np

from denseops.nn import optimizers
from denseops.nn.layers import Dense

FORMAT = "denseops.Sequential"
VERSION = 1
_CONFIG_KEY = "__denseops_config__"


def save_model(model, path):
    """Writes ``model`` to ``path`` (any file name; ``.npz`` is customary)."""
    if not model.built:
        raise ValueError("save() needs a built model: fit it or build(input_dim) first")
    config = {
        "format": FORMAT,
        "version": VERSION,
        "name": model.name,
        "layers": [layer.get_config() for layer in model.layers],
        "loss": model.loss.get_config() if model.loss else None,
        "metrics": model.metrics,
        "optimizer": model.optimizer.get_config() if model.optimizer else None,
        "optimizer_iterations": model.optimizer.iterations if model.optimizer else 0,
    }
    arrays = {_CONFIG_KEY: np.array(json.dumps(config))}
    for i, layer in enumerate(model.layers):
        for j, w in enumerate(layer.weights):
            arrays[f"layer{i}/weight{j}"] = w
    if model.optimizer is not None:
        for i, state in enumerate(model.optimizer._state):
            for key, value in state.items():
                arrays[f"optimizer/{i}/{key}"] = value
    _write_atomically(os.fspath(path), arrays)


def _write_atomically(path, arrays):
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = _open_temporary(folder)
    try:
        os.fchmod(fd, _file_mode(path))  # temporary files start as 0600
        with os.fdopen(fd, "wb", closefd=False) as f:
            np.savez(f, **arrays)
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
        os.link(f"/proc/self/fd/{fd}", os.path.basename(name), dst_dir_fd=dir_fd,
                follow_symlinks=True)
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


def load(path):
    """Reads a model written by ``Sequential.save``; compiled again if it was compiled.

    Raises:
        ValueError: the file is missing pieces, truncated, of another format
            or version, or its weights do not fit its architecture.
    """
    from denseops.nn.model import Sequential  # model imports this module lazily too

    path = os.fspath(path)
    try:
        # Open the file here: np.load(path) leaks its handle when the zip is unreadable.
        with open(path, "rb") as f, np.load(f, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as error:
        if isinstance(error, FileNotFoundError):
            raise
        raise ValueError(f"{path}: not a readable denseops model file ({error})") from None
    if _CONFIG_KEY not in arrays:
        raise ValueError(f"{path}: not a denseops model file (no {_CONFIG_KEY} entry)")
    config = json.loads(str(arrays.pop(_CONFIG_KEY)))
    if config.get("format") != FORMAT or config.get("version") != VERSION:
        raise ValueError(
            f"{path}: expected format {FORMAT!r} version {VERSION}, got "
            f"{config.get('format')!r} version {config.get('version')!r}")

    model = Sequential(name=config["name"])
    for layer_config in config["layers"]:
        if layer_config["class"] != "Dense":
            raise ValueError(f"{path}: unknown layer class {layer_config['class']!r}")
        model.add(Dense(layer_config["units"], activation=layer_config["activation"],
                        use_bias=layer_config["use_bias"], dtype=layer_config["dtype"],
                        name=layer_config["name"]))
    model.build(config["layers"][0]["input_dim"])
    for i, layer in enumerate(model.layers):
        for j, w in enumerate(layer.weights):
            key = f"layer{i}/weight{j}"
            if key not in arrays:
                raise ValueError(f"{path}: missing weights {key!r}")
            if arrays[key].shape != w.shape or arrays[key].dtype != w.dtype:
                raise ValueError(
                    f"{path}: weights {key!r} of layer {layer.name!r} have shape "
                    f"{arrays[key].shape} and dtype {arrays[key].dtype}; the architecture "
                    f"needs {w.shape} {w.dtype}")
            w[...] = arrays[key]
    if config["loss"] is not None:
        from denseops.nn import losses
        loss = losses.get(config["loss"]["name"])
        loss.from_logits = config["loss"]["from_logits"]
        model.compile(optimizer=optimizers.from_config(config["optimizer"]), loss=loss,
                      metrics=config["metrics"])
        _restore_optimizer_state(model, arrays, config["optimizer_iterations"], path)
    return model


def _restore_optimizer_state(model, arrays, iterations, path):
    optimizer = model.optimizer
    weights = model.weights
    states = []
    for i, w in enumerate(weights):
        prefix = f"optimizer/{i}/"
        state = {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
        for key, value in state.items():
            if value.shape != w.shape:
                raise ValueError(f"{path}: optimizer state {prefix + key!r} has shape "
                                 f"{value.shape}, expected {w.shape}")
        states.append(state)
    if any(states):
        optimizer._state = states
    optimizer.iterations = int(iterations)
