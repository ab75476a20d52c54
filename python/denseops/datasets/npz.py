"""Reading Keras's ``mnist.npz`` layout: x_train, y_train, x_test, y_test."""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

import numpy as np

from denseops.datasets.idx import describe_start

NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """Read the four Keras arrays from an ``.npz`` file.

    Args:
        path: The ``.npz`` file.

    Returns:
        A dict with keys ``x_train``, ``y_train``, ``x_test``, ``y_test``.

    Raises:
        ValueError: The file is not a readable ``.npz`` or lacks a key.

    Example:
        >>> arrays = read_npz(Path("mnist.npz"))  # doctest: +SKIP
        >>> arrays["x_train"].shape  # doctest: +SKIP
        (60000, 28, 28)
    """
    try:
        # np.load on an open file, so a corrupt archive cannot leak the handle.
        with open(path, "rb") as f, np.load(f, allow_pickle=False) as archive:
            missing = [key for key in NPZ_KEYS if key not in archive.files]
            if missing:
                raise KeyError(missing, sorted(archive.files))
            return {key: archive[key] for key in NPZ_KEYS}
    except KeyError as err:
        missing, found = err.args
        raise ValueError(
            f"{path}: missing array(s) {missing}; expected {list(NPZ_KEYS)}, found {found}"
        ) from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as err:
        with open(path, "rb") as f:
            start = describe_start(f.read(16))
        raise ValueError(f"{path}: not a readable .npz file ({err}); it {start}") from None
