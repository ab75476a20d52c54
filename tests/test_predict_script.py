"""benchmarks/predict.py, the inference benchmark: every library computes the same
probabilities (on a tiny MLP), the ONNX graph is Gemm-Relu-Gemm-Softmax, the table has
a column per library with the right ratios, and a short real run prints it. No
assertion on speed."""

import re
import subprocess
import sys

import numpy as np
import pytest
from helpers import BENCHMARKS, load_benchmark_script

SCRIPT = BENCHMARKS / "predict.py"
TINY = dict(inputs=12, hidden=8, classes=3)


@pytest.fixture(scope="module")
def predict():
    # predict.py puts its folder on sys.path for its lazily imported siblings.
    saved_path = list(sys.path)
    yield load_benchmark_script("predict")
    sys.path[:] = saved_path


@pytest.fixture(scope="module")
def tiny(predict):
    """Tiny weights and 5 images; the first image alone is the batch-of-1 case."""
    return predict.mlp_weights(seed=3, **TINY), predict.make_images(5, TINY["inputs"], seed=3)


def test_onnx_graph_is_gemm_relu_gemm_softmax_and_matches_numpy(predict, tiny):
    pytest.importorskip("onnx", reason="the ONNX column needs onnx (the test/bench extras)")
    pytest.importorskip("onnxruntime", reason="the ONNX column needs onnxruntime")
    weights, x = tiny
    graph = predict.onnx_model(weights).graph
    assert [node.op_type for node in graph.node] == ["Gemm", "Relu", "Gemm", "Softmax"]
    onnx_p = predict.make_predictor("onnxruntime", weights).predict(x)
    numpy_p = predict.make_predictor("numpy", weights).predict(x)
    diff = np.abs(onnx_p - numpy_p).max()
    assert onnx_p.shape == (5, TINY["classes"]) and diff <= 1e-6, f"max abs diff {diff}"


# torch runs only in the script's own subprocess (see the last test): imported
# here it would add its OpenMP and MKL pools to every later test's process.
@pytest.mark.parametrize("library", ["denseops", "kernels", "matmuls", "numpy", "onnxruntime"])
@pytest.mark.parametrize("rows", [1, 5])
def test_library_matches_the_float64_forward(predict, tiny, library, rows):
    reason = predict.unavailable_reason(library)
    if reason:
        pytest.skip(f"{library}: {reason}")
    weights, x = tiny
    predictor = predict.make_predictor(library, weights)
    p = np.asarray(predictor.predict(predictor.prepare(x[:rows])))
    reference = (
        predict.reference_matmuls if library == "matmuls" else predict.reference_probabilities
    )
    assert predictor.expected is reference
    expected = reference(weights, x[:rows])
    diff = np.abs(p - expected).max()
    assert p.shape == expected.shape and diff <= predict.TOLERANCE, f"max abs diff {diff}"
    if library != "matmuls":
        # the bias adds are part of the check: zero biases would give other probabilities
        W1, b1, W2, b2 = weights
        no_bias = reference((W1, 0 * b1, W2, 0 * b2), x[:rows])
        assert np.abs(no_bias - expected).max() > 100 * predict.TOLERANCE


def test_table_has_a_column_per_library_and_its_ratio(predict):
    names = ["1 image", "batch of 128", "10000 images"]
    base = [100e-6, 1e-3, 50e-3]
    seconds = {
        library: [t * (1 + k / 2) for t in base] for k, library in enumerate(predict.LIBRARIES)
    }
    ratios = {library: [0.25 * k, 1.5, 2.0] for k, library in enumerate(predict.LIBRARIES) if k}
    lines = predict.format_table(names, seconds, ratios).splitlines()
    assert len(lines) == 2 + len(names)
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]
    assert rows[0] == ["case"] + [predict.HEADERS[library] for library in predict.LIBRARIES]
    assert all(set(cell) <= set("-:") for cell in rows[1])
    for i, row in enumerate(rows[2:]):
        assert row[0] == names[i]
        assert row[1] == f"{base[i] * 1e6:.0f} us"  # the baseline has no ratio
        for k, cell in enumerate(row[2:], start=1):
            us = base[i] * (1 + k / 2) * 1e6
            ratio = ratios[predict.LIBRARIES[k]][i]
            assert cell == f"{us:.0f} us ({ratio:.2f})", (predict.LIBRARIES[k], cell)


def test_table_without_ratios_prints_times_only(predict):
    table = predict.format_table(["1 image"], {"numpy": [35.7e-6], "torch": [53.8e-6]}, {})
    assert table.splitlines()[-1].split("|")[2:4] == [" 35.7 us ", " 53.8 us "]


def test_ratios_pair_each_round_with_the_baseline_of_the_same_round(predict):
    # rounds x cases; the machine slows down 4x in the last two rounds
    samples = {
        "denseops": [[1.0, 10.0], [1.0, 10.0], [4.0, 40.0], [4.0, 40.0], [4.0, 40.0]],
        "numpy": [[2.0, 5.0], [2.0, 5.0], [2.0, 5.0], [8.0, 20.0], [8.0, 20.0]],
    }
    assert predict.paired_ratios(samples) == {"numpy": [2.0, 0.5]}
    assert predict.medians(samples) == {"denseops": [4.0, 40.0], "numpy": [2.0, 5.0]}
    assert predict.paired_ratios({"numpy": samples["numpy"]}) == {}


def test_rounds_time_each_case_in_every_library_in_rotating_order():
    from denseops.bench_workers import time_in_rounds

    calls = []

    class FakeWorker:
        def __init__(self, library):
            self.library = library

        def sample(self, name):
            calls.append((self.library, name))
            return float(len(calls)), -float(len(calls))

    workers = {library: FakeWorker(library) for library in ("denseops", "numpy", "torch")}
    samples, cpu = time_in_rounds(workers, ["0", "1"], rounds=3)
    assert calls == [
        ("denseops", "0"),
        ("numpy", "0"),
        ("torch", "0"),
        ("denseops", "1"),
        ("numpy", "1"),
        ("torch", "1"),
        ("numpy", "0"),
        ("torch", "0"),
        ("denseops", "0"),
        ("numpy", "1"),
        ("torch", "1"),
        ("denseops", "1"),
        ("torch", "0"),
        ("denseops", "0"),
        ("numpy", "0"),
        ("torch", "1"),
        ("denseops", "1"),
        ("numpy", "1"),
    ]
    assert samples["denseops"] == [[1.0, 4.0], [9.0, 12.0], [14.0, 17.0]]
    assert cpu["denseops"] == [[-1.0, -4.0], [-9.0, -12.0], [-14.0, -17.0]]


def test_only_numpy_worker_loses_the_openblas_overrides(predict, monkeypatch):
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    monkeypatch.setenv("OPENBLAS_L2_SIZE", "1048576")
    numpy_env = predict.child_env("numpy", threads=2)
    assert "OPENBLAS_CORETYPE" not in numpy_env and "OPENBLAS_L2_SIZE" not in numpy_env
    assert numpy_env["OPENBLAS_NUM_THREADS"] == numpy_env["OMP_NUM_THREADS"] == "2"
    assert predict.child_env("denseops", threads=1)["OPENBLAS_CORETYPE"] == "Haswell"


def test_only_rejects_unknown_libraries_naming_them(predict):
    assert predict.parse_libraries("torch, numpy") == ["numpy", "torch"]
    with pytest.raises(ValueError, match="Received: 'numpy,tensorflow'"):
        predict.parse_libraries("numpy,tensorflow")


def test_script_checks_and_prints_every_library_it_runs(predict):
    # NumPy's worker is left out: the script unsets OPENBLAS_CORETYPE for it,
    # which tests must not do (older OpenBLAS builds need it on some CPUs).
    libraries = ["denseops", "kernels", "matmuls", "onnxruntime", "torch"]
    done = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--rounds",
            "2",
            "--images",
            "200",
            "--only",
            ",".join(libraries),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    ran = [library for library in libraries if not predict.unavailable_reason(library)]
    for library in set(libraries) - set(ran):
        assert f"skipping  : {library}: " in done.stdout
    check = next(line for line in done.stdout.splitlines() if line.startswith("check"))
    for library in ran:
        diff = float(re.search(rf"{library} (\S+?)(,|$)", check).group(1))
        assert diff <= predict.TOLERANCE, check
    # one table of elapsed times, then (on 1 thread) one of CPU times
    tables = re.findall(r"(?m)(?:^\|.*\n)+", done.stdout)
    assert len(tables) == 2, done.stdout
    for table in tables:
        cells = [
            [cell.strip() for cell in line.strip("|").split("|")] for line in table.splitlines()
        ]
        assert cells[0] == ["case"] + [predict.HEADERS[library] for library in ran]
        assert [row[0] for row in cells[2:]] == ["1 image", "batch of 128", "200 images"]
        for row in cells[2:]:
            assert re.fullmatch(r"[\d.]+ us", row[1]), row
            assert all(re.fullmatch(r"[\d.]+ us \([\d.]+\)", cell) for cell in row[2:]), row
