"""Threads: the same answers on 1 and 2 threads, and who controls the count.

set_num_threads / get_num_threads, OMP_NUM_THREADS and threadpoolctl all
steer the OpenMP team; environment variables are read when the OpenMP
runtime starts, so those checks run in a fresh interpreter.
"""

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import denseops
import numpy as np
import pytest
from denseops import add, column_sums, dot, matmul, reference, relu, relu_backward
from helpers import assert_close, random_array

OPENMP = denseops._kernels._config()["openmp"]

# Sizes well above the kernels' "worth threading" thresholds, so that two
# threads really split the work.
ROWS, COLS = 700, 300
DOT_LENGTH = 300_001
MATMUL_SHAPE = (150, 170, 130)


def run_python(code, tmp_path, **env_changes):
    """Run `code` in a fresh interpreter outside the repo; return its stdout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMP_", "DENSEOPS_"))}
    env.update(env_changes)
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def make_inputs(seed, dtype):
    rng = np.random.default_rng(seed)
    m, k, n = MATMUL_SHAPE
    return {
        "x": random_array(rng, (ROWS, COLS), dtype),
        "y": random_array(rng, (ROWS, COLS), dtype),
        "bias": random_array(rng, (COLS,), dtype),
        "u": random_array(rng, (DOT_LENGTH,), dtype),
        "v": random_array(rng, (DOT_LENGTH,), dtype),
        "a": random_array(rng, (m, k), dtype),
        "b": random_array(rng, (k, n), dtype),
    }


def run_kernels(x, y, bias, u, v, a, b):
    """Every kernel on one set of inputs: {name: result}."""
    return {
        "relu": relu(x),
        "relu_backward": relu_backward(y, relu(x)),
        "add": add(x, y),
        "add_bias": add(x, bias),
        "column_sums": column_sums(x),
        "dot": np.asarray(dot(u, v), x.dtype),
        "matmul": matmul(a, b),
        "matmul_trans_a": matmul(a.T.copy(), b, trans_a=True),
        "matmul_trans_b": matmul(a, b.T.copy(), trans_b=True),
    }


def numpy_answers(x, y, bias, u, v, a, b):
    """What denseops.reference says run_kernels should return (sums in float64)."""
    dtype = x.dtype.type
    product = reference.matmul(a, b).astype(dtype)
    return {
        "relu": reference.relu(x),
        "relu_backward": reference.relu_backward(y, x),
        "add": x + y,
        "add_bias": x + bias,
        "column_sums": reference.column_sums(x).astype(dtype),
        "dot": np.asarray(reference.dot(u, v), dtype),
        "matmul": product,
        "matmul_trans_a": product,
        "matmul_trans_b": product,
    }


# How many terms each result sums; 0 for elementwise results.
TERMS = {
    "relu": 0,
    "relu_backward": 0,
    "add": 0,
    "add_bias": 0,
    "column_sums": ROWS,
    "dot": DOT_LENGTH,
    "matmul": MATMUL_SHAPE[1],
    "matmul_trans_a": MATMUL_SHAPE[1],
    "matmul_trans_b": MATMUL_SHAPE[1],
}


def test_kernels_give_the_same_results_on_1_and_2_threads(dtype):
    inputs = make_inputs(7, dtype)
    denseops.set_num_threads(1)
    one = run_kernels(**inputs)
    denseops.set_num_threads(2)
    two = run_kernels(**inputs)
    for name, expected in one.items():
        # Elementwise results and column sums do not depend on the split at
        # all; dot and matmul may add partial sums in another order.
        assert_close(two[name], expected, k=TERMS[name])


@pytest.mark.parametrize("threads", [1, 2])
def test_kernels_match_numpy_on_each_thread_count(dtype, threads):
    inputs = make_inputs(11, dtype)
    denseops.set_num_threads(threads)
    got, expected = run_kernels(**inputs), numpy_answers(**inputs)
    for name in expected:
        assert_close(got[name], expected[name], k=TERMS[name])


def test_kernels_give_the_same_results_from_concurrent_python_threads(dtype):
    # The GIL is released inside every kernel, so Python threads really run
    # kernels at the same time; each must still get its own right answer.
    rng = np.random.default_rng(3)
    jobs = [
        (random_array(rng, (90, 70), dtype), random_array(rng, (70, 80), dtype)) for _ in range(8)
    ]
    serial = [relu(matmul(a, b)) for a, b in jobs]
    with ThreadPoolExecutor(max_workers=4) as pool:
        parallel = list(pool.map(lambda ab: relu(matmul(*ab)), jobs * 3))
    for i, got in enumerate(parallel):
        np.testing.assert_array_equal(got, serial[i % len(jobs)])


@pytest.mark.parametrize("n", [1, 2, 3, 7])
def test_set_num_threads_sets_get_num_threads(n):
    denseops.set_num_threads(n)
    assert denseops.get_num_threads() == n


@pytest.mark.parametrize("n", [0, -1, 1025, 2**40, 2**70, -(2**70)])
def test_set_num_threads_rejects_out_of_range(n):
    with pytest.raises(
        ValueError, match=rf"set_num_threads: n must be between 1 and 1024, got {n}"
    ):
        denseops.set_num_threads(n)


@pytest.mark.parametrize(
    "n,type_name", [(1.0, "float"), ("2", "str"), (None, "NoneType"), (True, "bool")]
)
def test_set_num_threads_rejects_non_int(n, type_name):
    with pytest.raises(
        TypeError, match=rf"set_num_threads: n must be an int >= 1, got {type_name}"
    ):
        denseops.set_num_threads(n)


def test_set_num_threads_failure_keeps_the_previous_count():
    denseops.set_num_threads(2)
    with pytest.raises(ValueError):
        denseops.set_num_threads(0)
    assert denseops.get_num_threads() == 2


@pytest.mark.parametrize("value", ["1", "3"])
def test_get_num_threads_honours_omp_num_threads(tmp_path, value):
    out = run_python(
        "import denseops; print(denseops.get_num_threads())", tmp_path, OMP_NUM_THREADS=value
    )
    assert int(out) == (int(value) if OPENMP else 1)


def test_get_num_threads_defaults_to_the_usable_cores(tmp_path):
    out = run_python("import denseops; print(denseops.get_num_threads())", tmp_path)
    assert int(out) == (len(os.sched_getaffinity(0)) if OPENMP else 1)


def test_set_num_threads_overrides_omp_num_threads(tmp_path):
    code = "import denseops; denseops.set_num_threads(2); print(denseops.get_num_threads())"
    assert int(run_python(code, tmp_path, OMP_NUM_THREADS="1")) == 2


@pytest.mark.skipif(not OPENMP, reason="built without OpenMP")
def test_threadpoolctl_sees_and_limits_the_openmp_threads(tmp_path):
    code = """
import json
import denseops
from threadpoolctl import threadpool_info, threadpool_limits
apis = [pool["user_api"] for pool in threadpool_info()]
with threadpool_limits(limits=1, user_api="openmp"):
    inside = denseops.get_num_threads()
print(json.dumps({"apis": apis, "inside": inside, "after": denseops.get_num_threads()}))
"""
    seen = json.loads(run_python(code, tmp_path, OMP_NUM_THREADS="2"))
    assert "openmp" in seen["apis"]
    assert seen["inside"] == 1
    assert seen["after"] == 2


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_forked_child_runs_kernels_on_one_thread(tmp_path):
    # GNU OpenMP's thread pool does not survive fork(): a child that used it
    # would hang. denseops drops to one thread in forked children instead.
    code = """
import os
import numpy as np
import denseops
a = np.random.default_rng(0).uniform(-1, 1, (300, 300))
expected = denseops.matmul(a, a)  # starts the OpenMP team in the parent
pid = os.fork()
if pid == 0:
    ok = denseops.get_num_threads() == 1 and np.allclose(denseops.matmul(a, a), expected)
    os._exit(0 if ok else 3)
_, status = os.waitpid(pid, 0)
print(os.waitstatus_to_exitcode(status))
"""
    assert run_python(code, tmp_path, OMP_NUM_THREADS="2").strip() == "0"


# ---- idle OpenMP threads on a shared machine

WAIT_SETTINGS = """
import os
before = {v: os.environ.get(v) for v in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")}
import denseops
print(before["GOMP_SPINCOUNT"], os.environ.get("GOMP_SPINCOUNT"), os.environ.get("OMP_WAIT_POLICY"))
"""


@pytest.mark.parametrize(
    "user,expected",
    [
        ({}, "None 3000 None"),  # nothing chosen: a short spin, then sleep
        ({"GOMP_SPINCOUNT": "300000"}, "300000 300000 None"),  # the user's choice stands
        ({"OMP_WAIT_POLICY": "active"}, "None None active"),  # a policy: libgomp's spin count
    ],
    ids=["unset", "user-spincount", "user-policy"],
)
def test_idle_openmp_threads_spin_briefly_unless_the_user_chose(
    tmp_path, monkeypatch, user, expected
):
    for var in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY"):
        monkeypatch.delenv(var, raising=False)
    assert run_python(WAIT_SETTINGS, tmp_path, **user).strip() == expected
