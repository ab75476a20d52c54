"""Where data set files are looked for: the data root, the cache, a folder."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from denseops.datasets.spec import DatasetSpec, IdxFile

DATA_ROOT_ENV = "DENSEOPS_DATA"


def data_root_folder(spec: DatasetSpec) -> Path | None:
    """``$DENSEOPS_DATA/<name>``, or None when the variable is unset or empty."""
    root = os.environ.get(DATA_ROOT_ENV)
    return Path(root).expanduser() / spec.name if root else None


def cache_folder(spec: DatasetSpec) -> Path:
    """``$XDG_CACHE_HOME/denseops/<name>``, by default ``~/.cache/denseops/<name>``."""
    cache_home = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache_home).expanduser() / "denseops" / spec.name


def is_regular_file(path: Path) -> bool:
    """Whether ``path`` is a regular file (through symlinks); False if nothing is there.

    Raises:
        ValueError: Something is there but it is not a regular file (a
            directory, a FIFO, a device, a dangling symlink): a mistake to
            report, not a missing file to download again.
    """
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        if not path.is_symlink():
            return False
        raise ValueError(
            f"{path}: is a dangling symlink (its target {os.readlink(path)} does not exist)"
        ) from None
    if stat.S_ISREG(mode):
        return True
    kinds = {stat.S_ISDIR: "a directory", stat.S_ISFIFO: "a FIFO", stat.S_ISCHR: "a device",
             stat.S_ISBLK: "a device", stat.S_ISSOCK: "a socket"}
    kind = next((name for test, name in kinds.items() if test(mode)), "a special file")
    raise ValueError(f"{path}: is {kind}, not a regular file; expected a data file here")


def find_idx_file(folder: Path, idx_file: IdxFile) -> Path | None:
    """The raw file if present (no gunzip needed), else the ``.gz``, else None."""
    for candidate in (folder / idx_file.filename, folder / f"{idx_file.filename}.gz"):
        if is_regular_file(candidate):
            return candidate
    return None


def find_in_folder(
    folder: Path, spec: DatasetSpec
) -> tuple[Path | tuple[Path, ...] | None, list[str]]:
    """Look for the data set in one folder.

    Returns:
        ``(found, missing)``: ``found`` is a tuple of the four IDX paths, or
        the path of the ``.npz`` when the IDX files are incomplete, or None;
        ``missing`` names the IDX files not found (for error messages).
    """
    paths = [find_idx_file(folder, f) for f in spec.files]
    missing = [f"{f.filename}[.gz]" for f, p in zip(spec.files, paths) if p is None]
    if not missing:
        return tuple(paths), []
    npz = folder / spec.npz_name
    if is_regular_file(npz):
        return npz, []
    return None, missing
