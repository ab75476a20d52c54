"""Where data set files are looked for: the data root, the cache, a folder."""

from __future__ import annotations

import os
import stat
from os import PathLike
from pathlib import Path

from denseops.datasets.spec import DATASET_NAMES, DatasetSpec, IdxFile

DATA_ROOT_ENV = "DENSEOPS_DATA"


def absolute(path: str | PathLike) -> Path:
    """``path`` with ``~`` expanded, made absolute against the current working directory.

    Paths are made absolute once, where they are read, so a later ``chdir``
    or a subprocess started elsewhere cannot make them point somewhere else,
    and messages show exactly which folder was looked at. Symlinks are not
    followed, so the path shown is the one the user wrote, prefixed.
    """
    return Path(path).expanduser().absolute()


def data_root_setting() -> str | None:
    """The value of ``$DENSEOPS_DATA`` as given, or None when unset or empty."""
    return os.environ.get(DATA_ROOT_ENV) or None


def cache_folder(spec: DatasetSpec) -> Path:
    """``$XDG_CACHE_HOME/denseops/<name>``, by default ``~/.cache/denseops/<name>``."""
    cache_home = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return absolute(cache_home) / "denseops" / spec.name


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
    kinds = {
        stat.S_ISDIR: "a directory",
        stat.S_ISFIFO: "a FIFO",
        stat.S_ISCHR: "a device",
        stat.S_ISBLK: "a device",
        stat.S_ISSOCK: "a socket",
    }
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
        return tuple(p for p in paths if p is not None), []  # all found; narrows the type
    npz = folder / spec.npz_name
    if is_regular_file(npz):
        return npz, []
    return None, missing


def expected_layout(spec: DatasetSpec) -> str:
    """The two folder forms accepted for a data set, for error messages."""
    return (
        f"a folder holding the four {spec.name} IDX files (raw or .gz) or {spec.npz_name}, "
        f"or a data root holding {spec.name}/ with them"
    )


def shown(given: str | PathLike, resolved: Path) -> str:
    """``'given'``, followed by the absolute path when they differ, for messages."""
    return repr(str(given)) + ("" if str(given) == str(resolved) else f" ({resolved})")


def find_in_either_form(
    folder: Path, spec: DatasetSpec
) -> tuple[Path | tuple[Path, ...] | None, str]:
    """Look in ``folder`` itself, then in ``folder/<name>/``.

    ``--data-dir``, ``load_data(path=...)`` and ``$DENSEOPS_DATA`` all accept
    both forms, so pointing at the data set's folder or at the root above it
    both work.

    Returns:
        ``(found, "")``, or ``(None, what)`` where ``what`` says what the
        folder holds instead, e.g. ``"does not exist"``.

    Raises:
        ValueError: The files sit directly in a folder named after another
            data set (MNIST and Fashion-MNIST share file names, so
            ``.../mnist`` would otherwise load digits as clothes).
    """
    if not folder.exists():
        return None, "does not exist"
    if not folder.is_dir():
        return None, "is not a folder"
    found, missing = find_in_folder(folder, spec)
    if found is not None:
        if folder.name != spec.name and folder.name in DATASET_NAMES:
            raise ValueError(
                f"{folder} is the {folder.name} folder, but {spec.name} was asked for: "
                f"both use the same file names, so its files are not loaded as {spec.name}. "
                f"Point at the {spec.name} folder, or at a data root holding {spec.name}/."
            )
        return found, ""
    subfolder = folder / spec.name
    if not subfolder.is_dir():
        return None, (
            f"holds neither the {spec.name} files (missing: {', '.join(missing)}) "
            f"nor {spec.npz_name}, and has no {spec.name}/ folder"
        )
    found, sub_missing = find_in_folder(subfolder, spec)
    if found is None:
        return None, (
            f"holds no {spec.name} files itself, and its {spec.name}/ folder "
            f"lacks {', '.join(sub_missing)} (and has no {spec.npz_name})"
        )
    return found, ""
