"""benchmarks/targets.py, the speed-target table: how it pairs, orders and
summarises rounds, and that it prints a row per case. No assertion on speed."""

import importlib.util
import pathlib
import subprocess
import sys

import pytest

SCRIPT = pathlib.Path(__file__).resolve().parent.parent / "benchmarks" / "targets.py"


@pytest.fixture(scope="module")
def targets():
    spec = importlib.util.spec_from_file_location("targets_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_paired_ratios_put_numpy_over_ours_for_throughput_and_ours_over_numpy_for_time(targets):
    ours, ref = [1.0, 2.0, 4.0], [2.0, 2.0, 2.0]
    assert targets.paired_ratios(ours, ref, "ratio") == [2.0, 1.0, 0.5]
    assert targets.paired_ratios(ours, ref, "time") == [0.5, 1.0, 2.0]


def test_quartiles_of_rounds(targets):
    assert targets.quartiles([5.0, 1.0, 3.0, 2.0, 4.0]) == (2.0, 3.0, 4.0)
    assert targets.quartiles([7.0]) == (7.0, 7.0, 7.0)


def test_measure_alternates_which_library_goes_first(targets, monkeypatch):
    order = []
    monkeypatch.setattr(targets, "calibrate", lambda fn, seconds: 1)

    def fake_time_batch(fn, number):
        order.append(fn())
        return 1.0

    monkeypatch.setattr(targets, "time_batch", fake_time_batch)
    case = {"ours": lambda: "ours", "numpy": lambda: "numpy"}
    ours, ref = targets.measure(case, rounds=4, seconds=0.0)
    assert order == ["ours", "numpy", "numpy", "ours", "ours", "numpy", "numpy", "ours"]
    assert len(ours) == len(ref) == 4


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
