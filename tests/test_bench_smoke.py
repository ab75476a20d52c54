"""`denseops bench --quick` on the tiny sizes: the JSON it writes is complete and
self-consistent. No assertions on speed: timings on a shared machine are noise."""

import argparse
import json
import math
import time

import pytest
from denseops import bench, bench_cases, bench_timing
from denseops.bench_ladder import measure_case
from denseops.bench_table import format_table

LOCAL_IMPLEMENTATIONS = ("python loops", "cython", "numpy", "denseops")


def run_bench(argv):
    parser = argparse.ArgumentParser(prog="denseops")
    bench.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["bench", *argv])
    assert args.func is bench.run
    return args.func(args)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    path = tmp_path_factory.mktemp("bench") / "bench.json"
    # Tiny sizes, 10 textbook iterations instead of 1000: a few seconds in all.
    # The pause that lets BLAS threads go idle between samples only steadies
    # timings, which these tests do not read.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(bench_timing, "IDLE_PAUSE_S", 0.0)
        code = run_bench(
            [
                "--quick",
                "--sizes",
                "tiny",
                "--iterations",
                "10",
                "--repeats",
                "2",
                "--json",
                str(path),
            ]
        )
    assert code == 0
    return json.loads(path.read_text())


def test_bench_covers_every_operation_and_implementation(report):
    operations = {row["operation"] for row in report["rows"]}
    assert operations == set(bench_cases.OPERATIONS) - {"matmul_ta", "matmul_tb"}, (
        "the tiny tier has no transposed matmul; every other operation must appear"
    )
    for row in report["rows"]:
        assert set(row["results"]) == set(LOCAL_IMPLEMENTATIONS), (row["operation"], row["size"])
        assert row["skipped"] == {}


def test_bench_times_are_positive_medians(report):
    for row in report["rows"]:
        for impl, t in row["results"].items():
            assert 0 < t["min_s"] <= t["median_s"], (row["operation"], impl, t)
            assert t["repeats"] == 2 and t["calls_per_sample"] >= 1


def test_bench_ratios_match_times(report):
    for row in report["rows"]:
        times = {impl: t["median_s"] for impl, t in row["results"].items()}
        for impl, t in times.items():
            assert math.isclose(
                row["speedup_vs_python_loops"][impl], times["python loops"] / t, rel_tol=1e-12
            )
            assert math.isclose(row["speed_vs_numpy"][impl], times["numpy"] / t, rel_tol=1e-12)
            if row["flops"]:
                assert math.isclose(row["gflops"][impl], row["flops"] / t / 1e9, rel_tol=1e-12)
        assert row["speedup_vs_python_loops"]["python loops"] == 1.0
        assert row["speed_vs_numpy"]["numpy"] == 1.0


def test_bench_records_textbook_case_and_machine(report):
    textbook = [r for r in report["rows"] if r["operation"] == "textbook"]
    assert [(r["shape"], r["dtype"], r["iterations"]) for r in textbook] == [
        ([20, 100], "float64", 10)
    ]
    assert any(
        r["operation"] == "dot" and r["shape"] == [320000] and r["dtype"] == "float64"
        for r in report["rows"]
    )
    assert report["repeats"] == 2 and report["threads"] >= 1
    assert report["machine"]["numpy"] and report["machine"]["denseops"]


def test_bench_rejects_unknown_operation():
    with pytest.raises(ValueError, match="unknown operation"):
        run_bench(["--quick", "--ops", "relu,softplus"])


def test_table_shows_skipped_implementations_with_the_reason():
    case = bench_cases.Case("matmul", (128, 784, 512), "float32", "quick")
    row = measure_case(case, ["python loops", "numpy"], repeats=1, target_ns=1)
    assert set(row["results"]) == {"numpy"} and "python loops" in row["skipped"]
    lines = format_table([row]).splitlines()
    assert lines[0].split()[-1] == "GFLOP/s"
    numpy_line = next(line for line in lines[2:] if " numpy " in line)
    assert float(numpy_line.split()[-1]) == pytest.approx(row["gflops"]["numpy"], abs=0.05)
    skipped = next(line for line in lines if "python loops" in line)
    assert skipped.split()[:3] == ["python", "loops", "skipped"]
    assert f"({row['skipped']['python loops']})" in skipped


def test_calls_per_sample_ignores_a_slow_first_call():
    calls = []

    def first_call_slow():
        calls.append(None)
        if len(calls) == 1:
            time.sleep(0.01)  # like a lazy initialisation on the first call

    number = bench_timing.calls_per_sample(first_call_slow, target_ns=2_000_000)
    assert number > 1, "the warm-up call must not be mistaken for the per-call time"
