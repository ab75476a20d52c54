"""denseops.datasets: IDX/npz reading, errors, search order, download, real MNIST.

Most tests use a tiny "toy" data set (4x3 images, 5 train / 3 test) written
by the test itself with its own IDX writer, so the reader is checked against
an independent statement of the format. Downloads are served from file://
URLs: no network is needed or used.
"""

import dataclasses
import gzip
import hashlib
import io
import os
import re
import struct
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from denseops.datasets import DataNotFoundError, fashion_mnist, mnist
from denseops.datasets.idx import parse_idx, read_idx
from denseops.datasets.load import load_dataset
from denseops.datasets.locate import cache_folder
from denseops.datasets.spec import IMAGES_MAGIC, LABELS_MAGIC, DatasetSpec, IdxFile

# Captured before the autouse fixture clears it, for the real-data test.
REAL_DATA_ROOT = os.environ.get("DENSEOPS_DATA")

FILENAMES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
IDX_TYPE_CODES = {
    np.dtype("u1"): 0x08,
    np.dtype(">i4"): 0x0C,
    np.dtype(">f4"): 0x0D,
    np.dtype(">f8"): 0x0E,
}


def idx_bytes(array):
    """The IDX encoding of an array: magic, big-endian sizes, big-endian data."""
    array = np.asarray(array)
    big_endian = array.astype(array.dtype.newbyteorder(">"))
    header = bytes([0, 0, IDX_TYPE_CODES[big_endian.dtype], array.ndim])
    return header + struct.pack(f">{array.ndim}I", *array.shape) + big_endian.tobytes()


def toy_arrays(seed=0, n_train=5, n_test=3):
    """Four uint8 arrays in Keras's order; different seeds give different data."""
    rng = np.random.default_rng(seed)
    return (
        rng.integers(0, 256, (n_train, 4, 3), dtype=np.uint8),
        rng.integers(0, 10, n_train, dtype=np.uint8),
        rng.integers(0, 256, (n_test, 4, 3), dtype=np.uint8),
        rng.integers(0, 10, n_test, dtype=np.uint8),
    )


def write_idx_set(folder, arrays, compress=False):
    """Write the four IDX files; return their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, array in zip(FILENAMES, arrays):
        raw = idx_bytes(array)
        path = folder / (f"{name}.gz" if compress else name)
        path.write_bytes(gzip.compress(raw) if compress else raw)
        paths.append(path)
    return paths


def toy_spec(arrays=None, mirrors=(), raw_sha256=True, gz_sha256_of=None):
    """A DatasetSpec for the toy data.

    Raw checksums come from `arrays`; .gz checksums from the files in the folder `gz_sha256_of`.
    """
    files = []
    for i, (name, magic) in enumerate(zip(FILENAMES, (IMAGES_MAGIC, LABELS_MAGIC) * 2)):
        raw_hash = (
            hashlib.sha256(idx_bytes(arrays[i])).hexdigest() if raw_sha256 and arrays else None
        )
        gz_hash = None
        if gz_sha256_of is not None:
            gz_hash = hashlib.sha256((gz_sha256_of / f"{name}.gz").read_bytes()).hexdigest()
        files.append(IdxFile(name, magic, raw_sha256=raw_hash, gz_sha256=gz_hash))
    return DatasetSpec(
        "toy", *files, image_shape=(4, 3), mirrors=tuple(mirrors), npz_name="toy.npz"
    )


def assert_loaded(result, arrays):
    (x_train, y_train), (x_test, y_test) = result
    for got, want in zip((x_train, y_train, x_test, y_test), arrays):
        assert got.dtype == np.uint8, got.dtype
        assert got.shape == want.shape, (got.shape, want.shape)
        np.testing.assert_array_equal(got, want)


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    """No data root and a private cache, so no test sees the user's files."""
    monkeypatch.delenv("DENSEOPS_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))


# --- IDX reading ---------------------------------------------------------


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gz"])
def test_read_idx_round_trip(tmp_path, compress):
    arrays = toy_arrays()
    paths = write_idx_set(tmp_path, arrays, compress=compress)
    for path, want in zip(paths, arrays):
        got = read_idx(path)
        np.testing.assert_array_equal(got, want)
        assert got.dtype == np.uint8 and got.flags.writeable


@pytest.mark.parametrize("dtype", [">i4", ">f4", ">f8"])
def test_parse_idx_decodes_big_endian_types(dtype):
    want = np.linspace(-100.5, 100.5, 24).reshape(2, 3, 4).astype(dtype)
    got = parse_idx(idx_bytes(want), "array.idx")
    assert got.dtype.isnative and got.dtype.kind == np.dtype(dtype).kind
    np.testing.assert_array_equal(got, want)


# --- loading from a folder or npz ---------------------------------------


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gz"])
def test_load_dataset_explicit_folder(tmp_path, compress):
    arrays = toy_arrays()
    write_idx_set(tmp_path / "toy", arrays, compress=compress)
    assert_loaded(load_dataset(toy_spec(arrays), tmp_path / "toy"), arrays)


def test_load_dataset_prefers_raw_when_both_exist(tmp_path):
    arrays, other = toy_arrays(0), toy_arrays(1)
    write_idx_set(tmp_path, arrays, compress=False)
    write_idx_set(tmp_path, other, compress=True)
    assert_loaded(load_dataset(toy_spec(raw_sha256=False), tmp_path), arrays)


def test_load_dataset_npz_file_and_npz_in_folder(tmp_path):
    arrays = toy_arrays()
    np.savez(tmp_path / "toy.npz", **dict(zip(("x_train", "y_train", "x_test", "y_test"), arrays)))
    assert_loaded(load_dataset(toy_spec(), tmp_path / "toy.npz"), arrays)
    assert_loaded(load_dataset(toy_spec(), tmp_path), arrays)


def test_mnist_load_data_reads_keras_npz(tmp_path):
    rng = np.random.default_rng(3)
    arrays = (
        rng.integers(0, 256, (6, 28, 28), dtype=np.uint8),
        rng.integers(0, 10, 6, dtype=np.uint8),
        rng.integers(0, 256, (2, 28, 28), dtype=np.uint8),
        rng.integers(0, 10, 2, dtype=np.uint8),
    )
    np.savez_compressed(
        tmp_path / "mnist.npz", **dict(zip(("x_train", "y_train", "x_test", "y_test"), arrays))
    )
    assert_loaded(mnist.load_data(path=tmp_path / "mnist.npz"), arrays)
    assert_loaded(mnist.load_data(path=str(tmp_path)), arrays)


# --- errors, each naming the file ---------------------------------------


def corrupt(path, how):
    data = path.read_bytes()
    if how == "truncate":
        path.write_bytes(data[:-5])
    elif how == "append":
        path.write_bytes(data + b"\0\0")
    elif how == "flip":
        middle = len(data) // 2
        path.write_bytes(data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1 :])
    elif how == "html":
        path.write_bytes(b"<!DOCTYPE html><html><body>Access denied</body></html>")
    elif how == "header":
        path.write_bytes(data[:3])


@pytest.mark.parametrize(
    "compress, how, message",
    [
        (
            False,
            "truncate",
            r"truncated: header says shape \(5, 4, 3\) = 60 bytes of data, file holds 55",
        ),
        (False, "append", "trailing bytes after the data"),
        (False, "header", "truncated: 3 bytes"),
        (False, "html", r"wrong magic number: expected 2051 \(0x00000803\), got .*HTML"),
        (True, "truncate", "corrupt or truncated gzip data"),
        (True, "flip", "corrupt or truncated gzip data"),
        (True, "html", "named .gz but is not gzip data.*HTML"),
    ],
)
def test_load_dataset_corrupt_file_names_the_file(tmp_path, compress, how, message):
    paths = write_idx_set(tmp_path, toy_arrays(), compress=compress)
    corrupt(paths[0], how)
    with pytest.raises(ValueError, match=message) as excinfo:
        load_dataset(toy_spec(raw_sha256=False), tmp_path)
    assert str(paths[0]) in str(excinfo.value)


def test_load_dataset_wrong_magic_says_expected_and_got(tmp_path):
    arrays = toy_arrays()
    paths = write_idx_set(tmp_path, arrays)
    paths[0].write_bytes(idx_bytes(arrays[1]))  # a labels file where images belong
    with pytest.raises(
        ValueError,
        match=r"wrong magic number: expected 2051 \(0x00000803\), got 2049 \(0x00000801\)",
    ) as e:
        load_dataset(toy_spec(raw_sha256=False), tmp_path)
    assert str(paths[0]) in str(e.value)


def test_load_dataset_count_mismatch_names_both_files(tmp_path):
    arrays = list(toy_arrays())
    arrays[1] = arrays[1][:4]
    paths = write_idx_set(tmp_path, arrays)
    with pytest.raises(
        ValueError, match="image/label count mismatch.*holds 5 images.*holds 4 labels"
    ) as e:
        load_dataset(toy_spec(raw_sha256=False), tmp_path)
    assert str(paths[0]) in str(e.value) and str(paths[1]) in str(e.value)


def test_load_dataset_wrong_image_shape(tmp_path):
    arrays = list(toy_arrays())
    arrays[2] = arrays[2].reshape(3, 3, 4)
    paths = write_idx_set(tmp_path, arrays)
    with pytest.raises(
        ValueError, match=r"expected uint8 images shaped \(N, 4, 3\), got uint8 \(3, 3, 4\)"
    ) as e:
        load_dataset(toy_spec(raw_sha256=False), tmp_path)
    assert str(paths[2]) in str(e.value)


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gz"])
def test_load_dataset_checksum_mismatch_says_expected_and_actual(tmp_path, compress):
    arrays, other = toy_arrays(0), toy_arrays(1)
    paths = write_idx_set(tmp_path, other, compress=compress)  # same structure, different data
    spec = toy_spec(arrays)
    with pytest.raises(ValueError, match="SHA-256 mismatch of the uncompressed data") as e:
        load_dataset(spec, tmp_path)
    actual = hashlib.sha256(idx_bytes(other[0])).hexdigest()
    assert f"expected {spec.train_images.raw_sha256}, got {actual}" in str(e.value)
    assert str(paths[0]) in str(e.value)


def test_load_dataset_npz_errors_name_the_file(tmp_path):
    arrays = toy_arrays()
    partial = tmp_path / "partial.npz"
    np.savez(partial, x_train=arrays[0], y_train=arrays[1])
    with pytest.raises(ValueError, match=r"partial.npz: missing array\(s\) \['x_test', 'y_test'\]"):
        load_dataset(toy_spec(), partial)
    page = tmp_path / "page.npz"
    page.write_bytes(b"<html>Not Found</html>")
    with pytest.raises(ValueError, match="page.npz: not a readable .npz file.*HTML"):
        load_dataset(toy_spec(), page)


def test_load_dataset_explicit_path_missing_never_falls_back(tmp_path, monkeypatch):
    arrays = toy_arrays()
    write_idx_set(tmp_path / "root" / "toy", arrays)
    monkeypatch.setenv("DENSEOPS_DATA", str(tmp_path / "root"))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_dataset(toy_spec(arrays), tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(
        FileNotFoundError,
        match=r"holds neither the toy files \(missing: train-images-idx3-ubyte.*nor toy.npz, "
        r"and has no toy/ folder",
    ):
        load_dataset(toy_spec(arrays), tmp_path / "empty")


# --- search order -------------------------------------------------------


def test_search_order_explicit_beats_env_beats_cache(tmp_path, monkeypatch):
    explicit, env_data, cached = toy_arrays(1), toy_arrays(2), toy_arrays(3)
    write_idx_set(tmp_path / "explicit", explicit)
    write_idx_set(tmp_path / "root" / "toy", env_data)
    spec = toy_spec(raw_sha256=False)
    write_idx_set(cache_folder(spec), cached, compress=True)
    monkeypatch.setenv("DENSEOPS_DATA", str(tmp_path / "root"))
    assert_loaded(load_dataset(spec, tmp_path / "explicit"), explicit)
    assert_loaded(load_dataset(spec), env_data)
    monkeypatch.delenv("DENSEOPS_DATA")
    assert_loaded(load_dataset(spec), cached)


@pytest.mark.parametrize("setting", ["path", "env"])
@pytest.mark.parametrize("form", ["data root", "data set folder"])
def test_path_and_data_root_accept_both_folder_forms(tmp_path, monkeypatch, setting, form):
    arrays = toy_arrays()
    write_idx_set(tmp_path / "root" / "toy", arrays)
    folder = tmp_path / "root" if form == "data root" else tmp_path / "root" / "toy"
    if setting == "env":
        monkeypatch.setenv("DENSEOPS_DATA", str(folder))
        assert_loaded(load_dataset(toy_spec(arrays)), arrays)
    else:
        assert_loaded(load_dataset(toy_spec(arrays), folder), arrays)


@pytest.mark.parametrize("setting", ["path", "env"])
def test_relative_paths_are_taken_from_the_working_directory_where_read(
    tmp_path, monkeypatch, setting
):
    arrays = toy_arrays()
    write_idx_set(tmp_path / "here" / "data" / "toy", arrays)
    (tmp_path / "elsewhere").mkdir()

    def load():
        if setting == "env":
            monkeypatch.setenv("DENSEOPS_DATA", "data")
            return load_dataset(toy_spec(arrays))
        return load_dataset(toy_spec(arrays), "data")

    monkeypatch.chdir(tmp_path / "here")
    assert_loaded(load(), arrays)
    monkeypatch.chdir(tmp_path / "elsewhere")
    with pytest.raises(FileNotFoundError) as e:
        load()
    # The message shows the absolute folder the relative setting named here.
    assert f"'data' ({tmp_path / 'elsewhere' / 'data'}) does not exist" in str(e.value)


def test_wrong_data_root_says_so_before_any_download(tmp_path, monkeypatch):
    arrays = toy_arrays()
    mirror = serve(tmp_path / "mirror", arrays)  # would serve valid data if asked
    spec = toy_spec(arrays, mirrors=[mirror])
    (tmp_path / "root" / "other").mkdir(parents=True)
    (tmp_path / "root" / "other" / "notes.txt").write_text("not data")
    write_idx_set(tmp_path / "root" / "toy", arrays)
    (tmp_path / "root" / "toy" / FILENAMES[2]).unlink()
    cases = {
        str(tmp_path / "missing"): "does not exist",
        str(tmp_path / "root" / "other" / "notes.txt"): "is not a folder",
        str(tmp_path / "root" / "other"): "holds neither the toy files",
        str(
            tmp_path / "root"
        ): f"holds no toy files itself, and its toy/ folder lacks {FILENAMES[2]}[.gz]",
    }
    for setting, found in cases.items():
        monkeypatch.setenv("DENSEOPS_DATA", setting)
        with pytest.raises(FileNotFoundError) as e:
            load_dataset(spec)
        message = str(e.value)
        assert not isinstance(e.value, DataNotFoundError), message
        assert f"DENSEOPS_DATA={setting!r} {found}" in message, message
        assert "Expected a folder holding the four toy IDX files" in message, message
        assert "Nothing was downloaded" in message, message
        assert "--data-dir <folder>" in message and "load_data(path='<folder>')" in message
        assert not cache_folder(spec).exists(), "nothing may be downloaded into the cache"


def test_files_of_another_data_set_are_not_loaded_under_its_name(tmp_path, monkeypatch):
    # MNIST and Fashion-MNIST share file names: DENSEOPS_DATA=.../mnist must not
    # hand the digits to fashion_mnist.load_data().
    arrays = toy_arrays()
    write_idx_set(tmp_path / "mnist", arrays)
    monkeypatch.setenv("DENSEOPS_DATA", str(tmp_path / "mnist"))
    with pytest.raises(ValueError, match="is the mnist folder, but fashion-mnist was asked for"):
        fashion_mnist.load_data()
    with pytest.raises(ValueError, match="is the mnist folder, but fashion-mnist was asked for"):
        fashion_mnist.load_data(path=tmp_path / "mnist")


def test_dataset_names_list_every_shipped_data_set():
    from denseops.datasets.spec import DATASET_NAMES

    assert set(DATASET_NAMES) == {mnist.SPEC.name, fashion_mnist.SPEC.name}


def test_cache_folder_respects_xdg_then_home(tmp_path, monkeypatch):
    spec = toy_spec()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_folder(spec) == tmp_path / "xdg" / "denseops" / "toy"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_folder(spec) == tmp_path / "home" / ".cache" / "denseops" / "toy"


# --- download (file:// mirrors) and the offline error -------------------


def serve(folder, arrays):
    """A fake mirror: the .gz files in a folder, as a file:// base URL."""
    write_idx_set(folder, arrays, compress=True)
    return folder.as_uri() + "/"


def test_download_fills_cache_atomically_then_cache_is_used(tmp_path):
    arrays = toy_arrays()
    mirror = serve(tmp_path / "mirror", arrays)
    spec = toy_spec(arrays, mirrors=[mirror], gz_sha256_of=tmp_path / "mirror")
    assert_loaded(load_dataset(spec), arrays)
    cache = cache_folder(spec)
    assert sorted(p.name for p in cache.iterdir()) == sorted(
        f"{n}.gz" for n in FILENAMES
    )  # no temp files left
    for name in FILENAMES:
        assert (cache / f"{name}.gz").read_bytes() == (
            tmp_path / "mirror" / f"{name}.gz"
        ).read_bytes()
    for path in (tmp_path / "mirror").iterdir():
        path.unlink()  # the mirror is gone: the second load must come from the cache
    assert_loaded(load_dataset(spec), arrays)


def test_download_only_fetches_files_missing_from_cache(tmp_path):
    arrays = toy_arrays()
    spec = toy_spec(arrays, mirrors=[serve(tmp_path / "mirror", arrays)])
    cache = cache_folder(spec)
    write_idx_set(cache, arrays)  # raw copies of all four ...
    (cache / FILENAMES[1]).unlink()  # ... except the train labels
    (tmp_path / "mirror" / f"{FILENAMES[0]}.gz").unlink()  # so fetching train images would fail
    assert_loaded(load_dataset(spec), arrays)
    assert (cache / f"{FILENAMES[1]}.gz").is_file()


def test_download_skips_a_mirror_serving_a_web_page(tmp_path):
    arrays = toy_arrays()
    bad = tmp_path / "bad"
    bad.mkdir()
    for name in FILENAMES:
        (bad / f"{name}.gz").write_bytes(b"<!DOCTYPE html><html>Moved</html>")
    spec = toy_spec(arrays, mirrors=[bad.as_uri() + "/", serve(tmp_path / "good", arrays)])
    assert_loaded(load_dataset(spec), arrays)


@pytest.mark.parametrize("which", ["raw", "gz"])
def test_download_checksum_mismatch_keeps_cache_clean(tmp_path, which):
    arrays, expected = toy_arrays(0), toy_arrays(1)
    mirror = serve(tmp_path / "mirror", arrays)
    if which == "raw":
        spec = toy_spec(expected, mirrors=[mirror])
    else:
        serve(tmp_path / "published", expected)
        spec = toy_spec(raw_sha256=False, mirrors=[mirror], gz_sha256_of=tmp_path / "published")
    kind = "uncompressed data" if which == "raw" else "compressed file"
    with pytest.raises(
        ValueError,
        match=f"(?s)no mirror served a valid {FILENAMES[0]}.gz.*SHA-256 mismatch of the {kind}",
    ) as e:
        load_dataset(spec)
    assert f"{mirror}{FILENAMES[0]}.gz" in str(e.value)
    cache = cache_folder(spec)
    assert not cache.exists() or list(cache.iterdir()) == []


def test_cached_file_failing_its_gz_checksum_names_the_file(tmp_path):
    arrays = toy_arrays()
    mirror = serve(tmp_path / "mirror", arrays)
    spec = toy_spec(raw_sha256=False, mirrors=[mirror], gz_sha256_of=tmp_path / "mirror")
    load_dataset(spec)
    damaged = cache_folder(spec) / f"{FILENAMES[3]}.gz"
    damaged.write_bytes(gzip.compress(idx_bytes(toy_arrays(1)[3])))  # valid structure, other data
    with pytest.raises(ValueError, match="SHA-256 mismatch of the compressed file") as e:
        load_dataset(spec)
    assert str(damaged) in str(e.value)


def test_offline_without_data_is_one_clear_error(tmp_path, monkeypatch):
    unreachable = ["http://127.0.0.1:1/mnist/", (tmp_path / "no-mirror").as_uri() + "/"]
    monkeypatch.setattr(mnist, "SPEC", dataclasses.replace(mnist.SPEC, mirrors=tuple(unreachable)))
    with pytest.raises(DataNotFoundError) as e:
        mnist.load_data()
    message = str(e.value)
    assert isinstance(e.value, FileNotFoundError)
    assert (
        e.value.__cause__ is None and e.value.__suppress_context__
    )  # no urllib traceback chained on
    assert "$DENSEOPS_DATA: not set" in message
    assert str(cache_folder(mnist.SPEC)) in message
    for url in unreachable:
        assert f"{url}train-images-idx3-ubyte.gz" in message
    assert "DENSEOPS_DATA=<root>" in message and "<root>/mnist/" in message
    assert "--data-dir" in message and "load_data(path=" in message
    assert not cache_folder(mnist.SPEC).exists()


def test_fashion_mnist_offline_error_names_its_folder(monkeypatch):
    monkeypatch.setattr(
        fashion_mnist,
        "SPEC",
        dataclasses.replace(fashion_mnist.SPEC, mirrors=("http://127.0.0.1:1/",)),
    )
    with pytest.raises(DataNotFoundError, match="<root>/fashion-mnist/"):
        fashion_mnist.load_data()


# --- the real MNIST -----------------------------------------------------


def real_mnist_folder():
    if not REAL_DATA_ROOT:
        pytest.skip(
            "real MNIST test needs DENSEOPS_DATA=<root> with <root>/mnist/ "
            "(e.g. ../shared/datasets)"
        )
    folder = Path(REAL_DATA_ROOT) / "mnist"
    missing = [
        n for n in FILENAMES if not ((folder / n).is_file() or (folder / f"{n}.gz").is_file())
    ]
    if missing:
        pytest.skip(f"DENSEOPS_DATA={REAL_DATA_ROOT} but {folder} lacks {missing}")
    return folder


def test_mnist_load_data_real_files(monkeypatch):
    real_mnist_folder()
    monkeypatch.setenv("DENSEOPS_DATA", REAL_DATA_ROOT)
    (x_train, y_train), (x_test, y_test) = mnist.load_data()
    assert (x_train.shape, y_train.shape, x_test.shape, y_test.shape) == (
        (60000, 28, 28),
        (60000,),
        (10000, 28, 28),
        (10000,),
    )
    assert {a.dtype for a in (x_train, y_train, x_test, y_test)} == {np.dtype(np.uint8)}
    assert x_train.max() == 255 and x_train.min() == 0
    assert y_train[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert y_train[-3:].tolist() == [5, 6, 8]
    assert y_test[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert np.bincount(y_train).tolist() == [
        5923,
        6742,
        5958,
        6131,
        5842,
        5421,
        5918,
        6265,
        5851,
        5949,
    ]


# --- paths that are not regular files, and crafted files -----------------

MEMORY_BOUND = 100 << 20  # bytes: what refusing any crafted file under 10 MB may allocate


def make_not_a_file(path, kind):
    if kind == "directory":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)
    else:
        path.symlink_to(path.parent / "gone")


NOT_FILES = {
    "directory": "is a directory",
    "fifo": "is a FIFO",
    "dangling-symlink": "is a dangling symlink",
}


@pytest.mark.parametrize("kind", sorted(NOT_FILES))
def test_a_data_root_file_that_is_not_a_regular_file_is_an_error_not_a_download(
    tmp_path, monkeypatch, kind
):
    arrays = toy_arrays()
    folder = tmp_path / "root" / "toy"
    paths = write_idx_set(folder, arrays, compress=True)
    paths[2].unlink()
    make_not_a_file(paths[2], kind)
    monkeypatch.setenv("DENSEOPS_DATA", str(tmp_path / "root"))
    spec = toy_spec(arrays, mirrors=[serve(tmp_path / "mirror", arrays)])  # would succeed
    with pytest.raises(ValueError, match=rf"^{re.escape(str(paths[2]))}: {NOT_FILES[kind]}"):
        load_dataset(spec)
    assert not cache_folder(spec).exists()


@pytest.mark.parametrize("kind", sorted(NOT_FILES))
def test_an_explicit_path_or_npz_that_is_not_a_regular_file_names_it(tmp_path, kind):
    explicit = tmp_path / "toy.npz"
    if kind != "directory":  # an explicit directory is a folder to look in
        make_not_a_file(explicit, kind)
        with pytest.raises(ValueError, match=rf"^{re.escape(str(explicit))}: {NOT_FILES[kind]}"):
            load_dataset(toy_spec(), explicit)
    folder = tmp_path / "folder"
    folder.mkdir()
    make_not_a_file(folder / "toy.npz", kind)
    with pytest.raises(
        ValueError,
        match=rf"^{re.escape(str(folder / 'toy.npz'))}: "
        rf"{NOT_FILES[kind]}",
    ):
        load_dataset(toy_spec(), folder)


def refused_within_bounds(load, match):
    """Calls load(), expecting a ValueError matching ``match`` under MEMORY_BOUND."""
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=match):
            load()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < MEMORY_BOUND, f"allocated {peak / 2**20:.0f} MB before refusing the file"


def gzip_of_zeros(head, zero_bytes):
    """gzip of ``head`` followed by ``zero_bytes`` zeros, compressed piece by piece."""
    packer = zlib.compressobj(1, zlib.DEFLATED, 31)
    parts = [packer.compress(head)]
    piece = bytes(1 << 20)
    for _ in range(zero_bytes >> 20):
        parts.append(packer.compress(piece))
    return b"".join(parts) + packer.flush()


def test_a_gzip_bomb_declaring_a_huge_size_is_refused_from_its_header(tmp_path):
    arrays = toy_arrays()
    paths = write_idx_set(tmp_path / "toy", arrays, compress=True)
    # 200 MB of images in a ~200 KB file.
    paths[0].write_bytes(
        gzip_of_zeros(struct.pack(">4B3I", 0, 0, 8, 3, 200 << 16, 4, 4), 200 << 20)
    )
    assert paths[0].stat().st_size < 10 << 20
    refused_within_bounds(
        lambda: load_dataset(toy_spec(raw_sha256=False), tmp_path / "toy"),
        rf"{re.escape(str(paths[0]))}: header declares \d+ bytes, more than",
    )


def test_a_gzip_bomb_hiding_after_a_small_header_is_refused_in_pieces(tmp_path):
    arrays = toy_arrays()
    paths = write_idx_set(tmp_path / "toy", arrays, compress=True)
    # A valid 5-label file followed by 200 MB of zeros in the same stream.
    paths[1].write_bytes(gzip_of_zeros(idx_bytes(arrays[1]), 200 << 20))
    refused_within_bounds(
        lambda: load_dataset(toy_spec(raw_sha256=False), tmp_path / "toy"),
        rf"{re.escape(str(paths[1]))}: trailing bytes after the data",
    )


def test_an_npz_bomb_is_refused_before_its_arrays_are_unpacked(tmp_path):
    arrays = dict(zip(("x_train", "y_train", "x_test", "y_test"), toy_arrays()))
    path = tmp_path / "toy.npz"
    np.savez_compressed(path, **{k: v for k, v in arrays.items() if k != "x_train"})
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "|u1", "fortran_order": False, "shape": ((150 << 20) // 12, 4, 3)}
    )
    with (
        zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf,
        zf.open("x_train.npy", "w", force_zip64=True) as entry,
    ):
        entry.write(header.getvalue())
        for _ in range(150):
            entry.write(bytes(1 << 20))
    assert path.stat().st_size < 10 << 20
    refused_within_bounds(
        lambda: load_dataset(toy_spec(), path),
        rf"{re.escape(str(path))}: its arrays declare \d+ bytes, more than",
    )


def test_an_npz_entry_of_the_wrong_shape_is_refused_before_it_is_read(tmp_path):
    arrays = dict(zip(("x_train", "y_train", "x_test", "y_test"), toy_arrays()))
    arrays["x_test"] = np.zeros((3, 4, 5), np.uint8)
    np.savez(tmp_path / "toy.npz", **arrays)
    with pytest.raises(
        ValueError,
        match=r"toy.npz: \['x_test'\]: expected uint8 shaped "
        r"\(N, 4, 3\), got uint8 \(3, 4, 5\)",
    ):
        load_dataset(toy_spec(), tmp_path / "toy.npz")


def test_a_download_is_checked_against_its_checksum_before_it_is_unpacked(tmp_path):
    arrays = toy_arrays()
    serve(tmp_path / "published", arrays)
    mirror = serve(tmp_path / "mirror", arrays)
    bomb = tmp_path / "mirror" / f"{FILENAMES[0]}.gz"
    bomb.write_bytes(gzip_of_zeros(idx_bytes(arrays[0])[:16], 200 << 20))
    spec = toy_spec(raw_sha256=False, mirrors=[mirror], gz_sha256_of=tmp_path / "published")
    refused_within_bounds(
        lambda: load_dataset(spec),
        r"(?s)no mirror served a valid .*SHA-256 mismatch of the compressed",
    )
    assert not cache_folder(spec).exists() or f"{FILENAMES[0]}.gz" not in [
        p.name for p in cache_folder(spec).iterdir()
    ]
