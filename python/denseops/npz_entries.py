"""Reading arrays out of an .npz (zip) archive without trusting its headers.

``np.load`` allocates what an entry's npy header declares and inflates what
its zip header declares before anything is checked, so a few kilobytes can
demand gigabytes. Here the zip sizes, the compression ratio and the npy
header are checked against each other first; the caller can then check
shape and dtype against what it expects, and only then read the data.
Errors are ValueErrors without a path: callers name their file.
"""

import zipfile

import numpy as np

_ZIP_ERRORS = (zipfile.BadZipFile, OSError, EOFError, ValueError)
_PIECE = 1 << 20


def open_npy(archive, name, max_bytes=None, max_ratio=None):
    """Opens entry ``name`` and reads its npy header.

    Args:
        archive: an open ``zipfile.ZipFile``.
        name: the entry's name in the zip (with ``.npy``).
        max_bytes: refuse an entry that inflates to more than this.
        max_ratio: refuse an entry that inflates to more than this many
            times its compressed size (deflate can reach ~1000x).

    Returns:
        ``(stream, shape, fortran_order, dtype)``; the data that follows in
        ``stream`` is exactly what shape and dtype need.

    Raises:
        ValueError: sizes that disagree, an unreadable header, Python objects.
    """
    info = archive.getinfo(name)
    key = name[: -len(".npy")] if name.endswith(".npy") else name  # as np.load names it
    if max_bytes is not None and info.file_size > max_bytes:
        raise ValueError(
            f"entry {key!r} has {info.file_size} bytes, more than the {max_bytes} it may have"
        )
    if max_ratio is not None and info.file_size > max_ratio * max(info.compress_size, 1):
        raise ValueError(
            f"entry {key!r} inflates {info.compress_size} bytes to "
            f"{info.file_size}, more than {max_ratio} times: not real data"
        )
    try:
        stream = archive.open(info)
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(stream)
        elif version == (2, 0):
            shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(stream)
        else:
            raise ValueError(f"npy format version {version} is not supported")
    except (*_ZIP_ERRORS, SyntaxError) as error:
        raise ValueError(f"entry {key!r} is not a readable array ({error})") from None
    if dtype.hasobject:
        stream.close()
        raise ValueError(f"entry {key!r} holds Python objects, not numbers")
    data_bytes = int(np.prod(shape, dtype=object)) * dtype.itemsize
    header_bytes = stream.tell()
    if header_bytes + data_bytes != info.file_size:
        stream.close()
        raise ValueError(
            f"entry {key!r} declares shape {shape} of {dtype} but holds "
            f"{info.file_size - header_bytes} bytes of data"
        )
    return stream, shape, fortran_order, dtype


def read_npy(archive, name, **limits):
    """The array of entry ``name`` (writable), after the checks of ``open_npy``."""
    stream, shape, fortran_order, dtype = open_npy(archive, name, **limits)
    key = name[: -len(".npy")] if name.endswith(".npy") else name
    data = bytearray(int(np.prod(shape, dtype=object)) * dtype.itemsize)
    view, done = memoryview(data), 0
    with stream:
        try:
            while done < len(data):  # in pieces: one read() of it all would copy it twice
                piece = stream.read(min(len(data) - done, _PIECE))
                if not piece:
                    raise EOFError(f"{len(data) - done} bytes short")
                view[done : done + len(piece)] = piece
                done += len(piece)
        except _ZIP_ERRORS as error:
            raise ValueError(f"entry {key!r} is damaged ({error})") from None
    order = "F" if fortran_order else "C"
    return np.frombuffer(data, dtype=dtype).reshape(shape, order=order)
