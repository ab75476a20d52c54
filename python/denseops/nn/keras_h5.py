"""The HDF5 part of Keras's files (``model.weights.h5``, ``*.weights.h5``), in memory.

Keras 3 stores each object's variables as datasets ``<path>/vars/0``,
``<path>/vars/1``... (``layers/dense/vars/0`` is the first Dense layer's
kernel, ``optimizer/vars/0`` the iteration count); ``vars`` groups carry the
object's name as an attribute. A tree here is ``{path: [arrays]}`` with
``path`` "" for the model's own (empty) ``vars`` group.

Reading trusts nothing: every link is walked without being followed
(soft and external links, which could reach other files, are refused), the
datasets found must be exactly those expected, each with the expected shape
and dtype, stored contiguously and uncompressed (its storage size is its data
size: no fill-value "shape bombs"), with no external or virtual storage, and
only then is any data read. h5py is an optional extra (denseops[keras]).
"""

import io
import math

import numpy as np


def require_h5py():
    """Imports h5py, or explains which extra brings it."""
    try:
        import h5py
    except ImportError:
        raise ImportError(
            "Keras's .keras and .weights.h5 files need h5py, which is optional: "
            "pip install 'denseops[keras]' (or pip install h5py)"
        ) from None
    return h5py


def write(tree, names):
    """The bytes of an HDF5 file holding ``tree`` ({path: [arrays]}).

    Args:
        tree: variables per object path, in Keras's order.
        names: {path: object name}, written as the ``name`` attribute of the
            ``vars`` group, as Keras writes it.
    """
    h5py = require_h5py()
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        for path, arrays in tree.items():
            group = f.create_group(f"{path}/vars" if path else "vars")
            if path in names:
                group.attrs["name"] = names[path]
            for i, array in enumerate(arrays):
                group[str(i)] = array
    return buffer.getvalue()


class Expected:
    """What one dataset must be: its shape, and a dtype or dtype kinds ("iu", "f").

    ``dtype`` may be a tuple of the dtypes accepted (Keras writes a float64
    model's variables as float32: reading casts them to the model's dtype).
    """

    def __init__(self, shape, dtype=None, kinds=None, owner="", optional=False):
        self.shape, self.dtype, self.kinds, self.owner = tuple(shape), dtype, kinds, owner
        self.optional = optional  # absent is fine (an optimizer never built has no state)

    def mismatch(self, dataset):
        """None when ``dataset`` fits, else what is wrong with it."""
        shape, dtype = tuple(dataset.shape), dataset.dtype
        if self.dtype is not None:
            dtype_ok = dtype in _tuple(self.dtype)
            wanted = " or ".join(np.dtype(d).name for d in _tuple(self.dtype))
        else:
            dtype_ok, wanted = dtype.kind in self.kinds, f"a dtype of kind {self.kinds!r}"
        if shape == self.shape and dtype_ok:
            return None
        return f"has shape {shape} and dtype {dtype}; expected {self.shape} {wanted}"


def read(data, expected, ignore=()):
    """``{dataset path: array}`` for exactly the datasets of ``expected``.

    Args:
        data: the HDF5 file's bytes.
        expected: ``{dataset path: Expected}``, e.g. ``"layers/dense/vars/0"``.
        ignore: top-level groups not read and not checked beyond their links
            (``load_weights`` of a model without optimizer skips ``optimizer``).

    Raises:
        ValueError: not HDF5, links, unexpected or missing datasets, shapes,
            dtypes or storage that do not fit. Messages name the dataset.
    """
    h5py = require_h5py()
    try:
        f = h5py.File(io.BytesIO(data), "r")
    except (OSError, ValueError) as error:
        raise ValueError(f"the HDF5 weights are not readable ({error})") from None
    with f:
        found = _datasets(h5py, f, "", ignore)
        unexpected = sorted(set(found) - set(expected))
        if unexpected:
            raise ValueError(
                f"the HDF5 weights hold datasets the architecture does not use: {unexpected[:5]}"
            )
        missing = [p for p, want in expected.items() if p not in found and not want.optional]
        if missing:
            raise ValueError(f"the HDF5 weights lack {missing[:5]}")
        present = [path for path in expected if path in found]
        for path in present:
            _check_dataset(found[path], path, expected[path])
        # Every dataset checked: only now is data read.
        return {path: _read(found[path], path) for path in present}


def _tuple(value):
    return value if isinstance(value, tuple) else (value,)


def _datasets(h5py, group, prefix, ignore):
    """{path: dataset} under ``group``, refusing any link that is not a hard link."""
    found = {}
    for name in group:
        path = f"{prefix}{name}"
        link = group.get(name, getlink=True)
        if not isinstance(link, h5py.HardLink):
            raise ValueError(
                f"the HDF5 weights hold a {type(link).__name__} at {path!r}: links to "
                "other places or files are refused"
            )
        if not prefix and name in ignore:
            continue
        item = group[name]
        if isinstance(item, h5py.Group):
            found.update(_datasets(h5py, item, path + "/", ignore))
        elif isinstance(item, h5py.Dataset):
            found[path] = item
        else:
            raise ValueError(f"the HDF5 weights hold a {type(item).__name__} at {path!r}")
    return found


def _check_dataset(dataset, path, want):
    problem = want.mismatch(dataset)
    if problem:
        raise ValueError(f"HDF5 dataset {path!r}{want.owner} {problem}")
    if dataset.external or dataset.is_virtual:
        raise ValueError(f"HDF5 dataset {path!r} keeps its data in other files: refused")
    declared = math.prod(dataset.shape) * dataset.dtype.itemsize
    stored = dataset.id.get_storage_size()
    if stored != declared:
        raise ValueError(
            f"HDF5 dataset {path!r} declares {declared} bytes of data and stores {stored}: "
            "compressed or unwritten data is refused (Keras writes it plain)"
        )


def _read(dataset, path):
    try:
        return np.array(dataset[()], dtype=dataset.dtype)
    except (OSError, ValueError) as error:
        raise ValueError(f"HDF5 dataset {path!r} is damaged ({error})") from None
