"""benchmarks/targets.py, the speed-target table: how it pairs, orders and
summarises rounds, and that it prints a row per case. No assertion on speed."""

import subprocess
import sys

import numpy as np
import pytest
from helpers import BENCHMARKS, load_benchmark_script

SCRIPT = BENCHMARKS / "targets.py"


@pytest.fixture(scope="module")
def targets():
    return load_benchmark_script("targets")


def test_paired_ratios_put_numpy_over_ours_for_throughput_and_ours_over_numpy_for_time(targets):
    ours, ref = [1.0, 2.0, 4.0], [2.0, 2.0, 2.0]
    assert targets.paired_ratios(ours, ref, per_call=False) == [2.0, 1.0, 0.5]
    assert targets.paired_ratios(ours, ref, per_call=True) == [0.5, 1.0, 2.0]


def test_quartiles_of_rounds(targets):
    assert targets.quartiles([5.0, 1.0, 3.0, 2.0, 4.0]) == (2.0, 3.0, 4.0)
    assert targets.quartiles([7.0]) == (7.0, 7.0, 7.0)


def test_measure_calibrates_then_alternates_which_library_goes_first(targets):
    order = []

    class FakeWorker:
        def __init__(self, library):
            self.library = library

        def calibrate(self, name, target_ns):
            order.append((self.library, "calibrate", name, target_ns))

        def sample(self, name):
            order.append(self.library)
            return float(len(order)), 0.0

    workers = {library: FakeWorker(library) for library in targets.LIBRARIES}
    ours, ref = targets.measure(workers, "a case", rounds=4, batch_seconds=0.5)
    assert order == [
        ("denseops", "calibrate", "a case", 5e8),
        ("numpy", "calibrate", "a case", 5e8),
        "denseops",
        "numpy",
        "numpy",
        "denseops",
        "denseops",
        "numpy",
        "numpy",
        "denseops",
    ]
    # each library's own samples, in round order
    assert ours == [3.0, 6.0, 7.0, 10.0] and ref == [4.0, 5.0, 8.0, 9.0]


def test_both_sides_of_a_target_row_compute_the_same_result(targets):
    from denseops import bench_cases

    names = [name for name, _, _ in targets.TARGETS]
    assert len(set(names)) == len(names), "row names select rows with --only"
    for name, case, _ in targets.TARGETS:
        if case.work > 1e7:
            continue
        inputs = bench_cases.make_inputs(case)
        ours, ref = (bench_cases.make_call(case, lib, inputs)() for lib in targets.LIBRARIES)
        diff = np.abs(np.asarray(ours, np.float64) - ref).max()
        assert diff <= 1e-4 * max(1.0, np.abs(ref).max()), f"{name}: max abs diff {diff}"


def test_script_prints_a_row_for_the_case_it_runs():
    done = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--rounds",
            "2",
            "--batch-seconds",
            "0.001",
            "--only",
            "relu 1e+06",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    rows = [line for line in done.stdout.splitlines() if line.startswith("| relu 1e+06")]
    assert len(rows) == 1, done.stdout
    cells = [cell.strip() for cell in rows[0].strip("|").split("|")]
    assert cells[1].endswith("Gelem/s") and cells[2].endswith("Gelem/s")
    assert float(cells[3]) > 0
    assert cells[5] == ">= 1.0" and cells[6] in ("yes", "NO")
