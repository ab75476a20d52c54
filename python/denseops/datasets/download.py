"""Downloading IDX files from public mirrors into the cache, verified and atomic."""

from __future__ import annotations

import os
import sys
import tempfile
import urllib.request
from pathlib import Path

from denseops.datasets.checksum import decode_idx_file
from denseops.datasets.spec import DatasetSpec, IdxFile

# Per connection attempt and per read: a mirror silent this long counts as
# unreachable and the next one is tried; a slow but live one keeps going.
TIMEOUT_SECONDS = 30


class DownloadError(OSError):
    """Every mirror was unreachable (network errors only, no bad content)."""


# The largest published file (Fashion-MNIST's training images) is 26 MB.
MAX_DOWNLOAD_BYTES = 100 << 20


def fetch_bytes(url: str) -> bytes:
    """GET a URL (http, https or file); the body, cut one byte past MAX_DOWNLOAD_BYTES."""
    pieces, size = [], 0
    with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:
        # In pieces: read(n) would allocate n bytes up front.
        while size <= MAX_DOWNLOAD_BYTES and (piece := response.read(1 << 20)):
            pieces.append(piece)
            size += len(piece)
    return b"".join(pieces)


def write_atomically(path: Path, data: bytes) -> None:
    """Write to a temporary file beside ``path`` then rename it into place.

    A crash or a full disk never leaves a half-written file under the real
    name, so a file present in the cache was complete when written.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as tmp:
            tmp.write(data)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        os.unlink(tmp_name)
        raise


def download_idx_file(spec: DatasetSpec, idx_file: IdxFile, folder: Path) -> Path:
    """Fetch ``<filename>.gz`` from the first mirror that serves valid data.

    The bytes are decompressed, parsed and checksummed in memory before they
    are written, so nothing unverified ever enters the cache.

    Args:
        spec: The data set (for its mirrors).
        idx_file: The file to fetch.
        folder: The cache folder to write ``<filename>.gz`` into.

    Returns:
        The path of the written file.

    Raises:
        ValueError: A mirror answered but no mirror served valid data
            (checksum mismatch, corrupt or HTML content); names each URL.
        DownloadError: No mirror could be reached; names each URL and reason.
    """
    bad_content, unreachable = [], []
    for base in spec.mirrors:
        url = f"{base}{idx_file.filename}.gz"
        print(f"denseops: downloading {url}", file=sys.stderr)
        try:
            stored = fetch_bytes(url)
        except (OSError, ValueError) as err:  # URLError, HTTPError, timeouts, bad URLs
            unreachable.append(f"  {url}: {err}")
            continue
        try:
            if len(stored) > MAX_DOWNLOAD_BYTES:
                raise ValueError(f"{url}: serves more than {MAX_DOWNLOAD_BYTES} bytes")
            decode_idx_file(stored, idx_file, url, check_gz_sha256=True)
        except ValueError as err:
            bad_content.append(f"  {err}")
            continue
        target = folder / f"{idx_file.filename}.gz"
        write_atomically(target, stored)
        return target
    if bad_content:
        raise ValueError(
            f"no mirror served a valid {idx_file.filename}.gz:\n"
            + "\n".join(bad_content + unreachable)
        )
    raise DownloadError("\n".join(unreachable) or "  no mirrors configured")
