"""The search order and the assembly of ``(x_train, y_train), (x_test, y_test)``."""

from __future__ import annotations

from collections.abc import Sequence
from os import PathLike
from pathlib import Path

import numpy as np

from denseops.datasets.checksum import decode_idx_file
from denseops.datasets.download import DownloadError, download_idx_file
from denseops.datasets.idx import read_stored
from denseops.datasets.locate import (
    DATA_ROOT_ENV,
    absolute,
    cache_folder,
    data_root_setting,
    expected_layout,
    find_idx_file,
    find_in_either_form,
    find_in_folder,
    is_regular_file,
    shown,
)
from denseops.datasets.npz import read_npz
from denseops.datasets.spec import DatasetSpec

Split = tuple[np.ndarray, np.ndarray]


class DataNotFoundError(FileNotFoundError):
    """The data set is nowhere on disk and could not be downloaded."""


def check_split(
    spec: DatasetSpec, images: np.ndarray, labels: np.ndarray, images_src: str, labels_src: str
) -> Split:
    """Check one split's dtypes, image shape and that counts agree; return it."""
    rows_cols = tuple(spec.image_shape)
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != rows_cols:
        raise ValueError(
            f"{images_src}: expected uint8 images shaped (N, {rows_cols[0]}, {rows_cols[1]}), "
            f"got {images.dtype} {images.shape}"
        )
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise ValueError(
            f"{labels_src}: expected uint8 labels shaped (N,), got {labels.dtype} {labels.shape}"
        )
    if len(images) != len(labels):
        raise ValueError(
            f"image/label count mismatch: {images_src} holds {len(images)} images, "
            f"{labels_src} holds {len(labels)} labels"
        )
    return images, labels


def load_idx_files(
    spec: DatasetSpec, paths: Sequence[Path], from_cache: bool
) -> tuple[Split, Split]:
    """Read and verify the four IDX files (see ``checksum.decode_idx_file``)."""
    arrays = [
        decode_idx_file(read_stored(path), idx_file, str(path), check_gz_sha256=from_cache)
        for idx_file, path in zip(spec.files, paths)
    ]
    names = [str(p) for p in paths]
    train = check_split(spec, arrays[0], arrays[1], names[0], names[1])
    test = check_split(spec, arrays[2], arrays[3], names[2], names[3])
    return train, test


def load_npz_file(spec: DatasetSpec, path: Path) -> tuple[Split, Split]:
    """Read a Keras-style ``.npz`` and check it like the IDX files."""
    a = read_npz(path, spec.image_shape)
    name = {key: f"{path}[{key!r}]" for key in a}  # names the array in messages
    train = check_split(spec, a["x_train"], a["y_train"], name["x_train"], name["y_train"])
    test = check_split(spec, a["x_test"], a["y_test"], name["x_test"], name["y_test"])
    return train, test


def load_found(
    spec: DatasetSpec, found: Path | Sequence[Path], from_cache: bool
) -> tuple[Split, Split]:
    """Load what ``find_in_folder`` found: four IDX paths or one ``.npz``."""
    if isinstance(found, Path):
        return load_npz_file(spec, found)
    return load_idx_files(spec, found, from_cache)


def load_explicit(spec: DatasetSpec, path: str | PathLike) -> tuple[Split, Split]:
    """``path=``: a ``.npz`` file or a folder; never falls back to other places."""
    resolved = absolute(path)
    if not resolved.is_dir() and is_regular_file(resolved):
        return load_npz_file(spec, resolved)
    found, what = find_in_either_form(resolved, spec)
    if found is None:
        raise FileNotFoundError(
            f"path={shown(path, resolved)} {what}; expected a .npz file, or {expected_layout(spec)}"
        )
    return load_found(spec, found, from_cache=False)


def wrong_data_root_message(spec: DatasetSpec, setting: str, resolved: Path, what: str) -> str:
    """``$DENSEOPS_DATA`` is set but does not hold the data set."""
    return (
        f"{DATA_ROOT_ENV}={shown(setting, resolved)} {what}.\n"
        f"Expected {expected_layout(spec)}.\n"
        f"Nothing was downloaded. Fix {DATA_ROOT_ENV} (an absolute path works from any "
        f"directory), unset it to use the cache {cache_folder(spec)} and the download, or "
        f"name the folder directly: `denseops train --data-dir <folder>` or "
        f"load_data(path='<folder>')."
    )


def not_found_message(spec: DatasetSpec, looked: list[str], download_failures: str) -> str:
    """Where we looked, why the download failed, and where to put the files."""
    files = ", ".join(f"{f.filename}.gz" for f in spec.files)
    return (
        f"{spec.name} data not found and could not be downloaded.\n"
        "Looked in:\n" + "\n".join(looked) + "\n"
        "Download failed:\n" + download_failures + "\n"
        f"To use a local copy, put the four IDX files ({files}; raw or .gz) "
        f"or {spec.npz_name} into <root>/{spec.name}/ and set {DATA_ROOT_ENV}=<root>, "
        f"or pass --data-dir <folder> to `denseops train`, or load_data(path='<folder>')."
    )


def load_dataset(spec: DatasetSpec, path: str | PathLike | None = None) -> tuple[Split, Split]:
    """Find, verify and load a data set (the engine behind each ``load_data``).

    Search order: ``path`` (if given, the only place looked at); else
    ``$DENSEOPS_DATA`` (if set, the only place looked at); else the cache;
    then a download from the mirrors into the cache. ``path`` and
    ``$DENSEOPS_DATA`` may each name the folder holding the files or a root
    holding ``<name>/``; relative ones are taken from the current working
    directory.

    Args:
        spec: The data set.
        path: Optional folder (holding the files or ``<name>/``), or a
            ``.npz`` file.

    Returns:
        ``(x_train, y_train), (x_test, y_test)`` as uint8 arrays.

    Raises:
        FileNotFoundError: ``path`` or ``$DENSEOPS_DATA`` does not hold the
            data (the message shows the absolute path looked at), or (as
            ``DataNotFoundError``) no data anywhere and no download possible.
        ValueError: A file is corrupt, truncated, has the wrong magic number
            or checksum, or image and label counts disagree.
    """
    if path is not None:
        return load_explicit(spec, path)
    setting = data_root_setting()
    if setting is not None:
        # A set DENSEOPS_DATA is the user's answer to "where is the data": when
        # it is wrong, say so rather than quietly use the cache or download.
        resolved = absolute(setting)
        found, what = find_in_either_form(resolved, spec)
        if found is None:
            raise FileNotFoundError(wrong_data_root_message(spec, setting, resolved, what))
        return load_found(spec, found, from_cache=False)
    looked = [f"  ${DATA_ROOT_ENV}: not set"]
    cache = cache_folder(spec)
    found, missing = find_in_folder(cache, spec)
    if found is not None:
        return load_found(spec, found, from_cache=True)
    looked.append(f"  cache {cache} (missing: {', '.join(missing)})")
    try:
        paths = [find_idx_file(cache, f) or download_idx_file(spec, f, cache) for f in spec.files]
    except DownloadError as err:
        raise DataNotFoundError(not_found_message(spec, looked, str(err))) from None
    return load_idx_files(spec, paths, from_cache=True)
