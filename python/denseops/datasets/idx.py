"""Reading IDX files, raw or gzip-compressed, into NumPy arrays.

IDX (the MNIST format): a 4-byte magic number ``00 00 <dtype> <ndim>``, then
``ndim`` big-endian uint32 sizes, then the data in C order.
"""

from __future__ import annotations

import gzip
import io
import os
import stat
import struct
import zlib
from math import prod
from os import PathLike

import numpy as np

GZIP_MAGIC = b"\x1f\x8b"

# IDX type codes; multi-byte types are big-endian on disk.
_IDX_DTYPES = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}

# Image data compresses about 5x (MNIST 4.8x, Fashion-MNIST 1.8x); deflate can
# reach 1000x. Compressed data may unpack to MAX_EXPANSION times its size (and
# small files to EXPANSION_FLOOR bytes): a crafted file costs at most that.
MAX_EXPANSION = 10
EXPANSION_FLOOR = 16 << 20


def expansion_limit(stored_bytes: int) -> int:
    """How many bytes ``stored_bytes`` of compressed data may unpack to."""
    return max(MAX_EXPANSION * stored_bytes, EXPANSION_FLOOR)


def read_stored(path: str | PathLike) -> bytes:
    """A data file's bytes; anything but a regular file is a ValueError naming it.

    Opened without blocking, so a FIFO put in place of a file is refused
    rather than waited on.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with open(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ValueError(f"{path}: not a regular file; expected a data file")
        return f.read()


def describe_start(data: bytes) -> str:
    """A short hint about what the bytes really are, for error messages."""
    start = bytes(data[:16])
    hint = ""
    if start.lstrip().startswith(b"<"):
        # Typical when a mirror answered with an error or login page.
        hint = " (looks like an HTML/XML page, not data)"
    return f"starts with {start!r}{hint}"


def decompress(stored: bytes, source: str) -> bytes:
    """Return the raw IDX bytes of a file's contents, gunzipping if needed.

    Gzip is recognised by its magic bytes, not by the name, but a file named
    ``.gz`` that is not gzip data is an error (usually a saved web page).

    Args:
        stored: The bytes as stored on disk or received from a mirror.
        source: The file name or URL, used in error messages.

    Returns:
        The uncompressed bytes.

    Raises:
        ValueError: Corrupt or truncated gzip data, or a ``.gz`` name on
            bytes that are not gzip.
    """
    if stored[:2] == GZIP_MAGIC:
        try:
            return _gunzip_idx(stored, source)
        except (OSError, EOFError, zlib.error) as err:
            raise ValueError(f"{source}: corrupt or truncated gzip data ({err})") from None
    if str(source).endswith(".gz"):
        raise ValueError(f"{source}: named .gz but is not gzip data; it {describe_start(stored)}")
    return stored


def _gunzip_idx(stored: bytes, source: str) -> bytes:
    """Unpack gzip IDX data, reading its header first and never more than it declares.

    The header's shape says how many bytes follow; a size above
    ``expansion_limit`` is refused before the data is unpacked. Data beyond
    the declared size is unpacked only to tell trailing bytes from a
    corrupt stream, piece by piece and kept by one byte only.
    """
    with gzip.GzipFile(fileobj=io.BytesIO(stored)) as f:
        head = f.read(4)
        if len(head) == 4 and head[0] == head[1] == 0 and head[2] in _IDX_DTYPES:
            head += f.read(4 * head[3])
        declared = _declared_size(head)
        if declared is None:  # no valid header: parse_idx says what is wrong with it
            return head + f.read(64)
        limit = expansion_limit(len(stored))
        if declared > limit:
            raise ValueError(
                f"{source}: header declares {declared} bytes, more than {len(stored)} bytes "
                f"of gzip data may unpack to ({limit}); the file is not a real data set"
            )
        data = head + f.read(declared - len(head))
        extra = f.read(1)  # at the end of the stream this checks the CRC
        if extra:
            # More than declared: reported as trailing data unless the stream is corrupt,
            # which only unpacking the rest (in pieces, up to the limit) can tell.
            unpacked = len(data) + 1
            while unpacked <= limit and (piece := f.read(1 << 20)):
                unpacked += len(piece)
        return data + extra


def _declared_size(head: bytes) -> int | None:
    """Header plus data bytes an IDX header declares, or None if ``head`` is not one."""
    if len(head) < 4 or head[2] not in _IDX_DTYPES or len(head) < 4 + 4 * head[3]:
        return None
    shape = struct.unpack(f">{head[3]}I", head[4 : 4 + 4 * head[3]])
    return 4 + 4 * head[3] + prod(shape) * np.dtype(_IDX_DTYPES[head[2]]).itemsize


def parse_idx(raw: bytes, source: str, expected_magic: int | None = None) -> np.ndarray:
    """Parse uncompressed IDX bytes into a new, writable, native-endian array.

    Args:
        raw: The whole uncompressed file: header and data.
        source: The file name or URL, used in error messages.
        expected_magic: If given, the magic number the file must have
            (e.g. ``0x00000803`` for uint8 images).

    Returns:
        An array shaped as the header says.

    Raises:
        ValueError: Wrong magic number, truncated header, or a data size that
            does not match the header.

    Example:
        >>> parse_idx(bytes([0, 0, 8, 1, 0, 0, 0, 2, 7, 9]), "labels")
        array([7, 9], dtype=uint8)
    """
    if len(raw) < 4:
        raise ValueError(f"{source}: truncated: {len(raw)} bytes, too short for an IDX header")
    magic = int.from_bytes(raw[:4], "big")
    if expected_magic is not None and magic != expected_magic:
        raise ValueError(
            f"{source}: wrong magic number: expected {expected_magic} (0x{expected_magic:08x}), "
            f"got {magic} (0x{magic:08x}); the file {describe_start(raw)}"
        )
    if raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise ValueError(
            f"{source}: not an IDX file: magic number 0x{magic:08x}; it {describe_start(raw)}"
        )
    ndim = raw[3]
    header_size = 4 + 4 * ndim
    if len(raw) < header_size:
        raise ValueError(
            f"{source}: truncated header: {ndim} dims need {header_size} bytes, "
            f"file holds {len(raw)}"
        )
    shape = struct.unpack(f">{ndim}I", raw[4:header_size])
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    expected_bytes = prod(shape) * dtype.itemsize
    actual_bytes = len(raw) - header_size
    if actual_bytes != expected_bytes:
        problem = "truncated" if actual_bytes < expected_bytes else "trailing bytes after the data"
        raise ValueError(
            f"{source}: {problem}: header says shape {shape} = {expected_bytes} bytes of data, "
            f"file holds {actual_bytes}"
        )
    flat = np.frombuffer(raw, dtype=dtype, count=prod(shape), offset=header_size)
    # astype copies: the result owns writable memory in native byte order.
    return flat.astype(dtype.newbyteorder("=")).reshape(shape)


def read_idx(path: str | PathLike, expected_magic: int | None = None) -> np.ndarray:
    """Read an IDX file, raw or ``.gz``, into a NumPy array.

    Args:
        path: The file.
        expected_magic: If given, the magic number the file must have.

    Returns:
        The array the file holds.

    Raises:
        ValueError: The file is corrupt, truncated, or has the wrong magic.

    Example:
        >>> from denseops.datasets.idx import read_idx
        >>> x = read_idx("mnist/t10k-images-idx3-ubyte.gz")  # doctest: +SKIP
        >>> x.shape, x.dtype  # doctest: +SKIP
        ((10000, 28, 28), dtype('uint8'))
    """
    source = str(path)
    return parse_idx(decompress(read_stored(path), source), source, expected_magic)
