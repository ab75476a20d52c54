"""Threads, processes and other thread pools around the kernels.

test_threads.py checks the answers on 1 and 2 OpenMP threads, a small
concurrent run, the thread-count settings, threadpoolctl's limit on
get_num_threads and a bare os.fork(). Here: many Python threads hammering
shared inputs, proof that the GIL is released, a bound on OS threads,
multiprocessing with each start method after the parent's OpenMP team ran,
and threadpoolctl limiting the threads a kernel really starts.

Process-level checks run in a fresh interpreter under a timeout, so a hang
(the classic libgomp-after-fork deadlock) fails the test instead of
stalling the suite.
"""

import json
import os
import subprocess
import sys
import textwrap
import threading
import time

import denseops
import numpy as np
import pytest
from denseops import add, column_sums, dot, matmul, reference, relu
from denseops.nn import Dense, Sequential, optimizers
from helpers import assert_close, random_array

OPENMP = denseops._kernels._config()["openmp"]
CHILD_TIMEOUT = 120  # seconds; generous for a loaded CI machine, and only reached on a hang


def os_thread_count():
    return len(os.listdir("/proc/self/task"))


def run_script(tmp_path, code, **env_changes):
    """Run `code` as a script file in a fresh interpreter; return its last stdout line as JSON."""
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(code))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMP_", "DENSEOPS_"))}
    env.update(env_changes)
    try:
        done = subprocess.run(
            [sys.executable, str(script)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=CHILD_TIMEOUT,
        )
    except subprocess.TimeoutExpired as expired:
        pytest.fail(
            f"no answer within {CHILD_TIMEOUT} s (a hang); output so far:\n"
            f"{expired.stdout}\n{expired.stderr}"
        )
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return json.loads(done.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------ Python threads


def shared_inputs(dtype):
    rng = np.random.default_rng(42)
    inputs = {
        "x": random_array(rng, (64, 48), dtype),
        "y": random_array(rng, (64, 48), dtype),
        "w": random_array(rng, (48, 40), dtype),
        "v": random_array(rng, (20_000,), dtype),
    }
    for a in inputs.values():
        a.flags.writeable = False  # shared and read-only, as the promise says
    return inputs


def one_round(x, y, w, v):
    return [
        relu(x),
        add(x, y),
        column_sums(x),
        matmul(x, w),
        matmul(x, y, trans_b=True),
        np.asarray(dot(v, v), x.dtype),
    ]


def numpy_round(x, y, w, v):
    return [
        reference.relu(x),
        x + y,
        reference.column_sums(x).astype(x.dtype),
        reference.matmul(x, w).astype(x.dtype),
        reference.matmul(x, y, trans_b=True).astype(x.dtype),
        np.asarray(reference.dot(v, v), x.dtype),
    ]


TERMS = [0, 0, 64, 48, 48, 20_000]


@pytest.mark.parametrize("kernel_threads", [1, 2])
def test_eight_python_threads_times_200_calls_match_numpy(dtype, kernel_threads):
    denseops.set_num_threads(kernel_threads)
    inputs = shared_inputs(dtype)
    expected = numpy_round(**inputs)
    serial = one_round(**inputs)
    for got, want, k in zip(serial, expected, TERMS):
        assert_close(got, want, k=k)
    baseline = os_thread_count()
    start = threading.Barrier(8)
    mismatches, peak_threads, errors = [], [], []

    def worker():
        try:
            start.wait()
            for call in range(200):
                results = one_round(**inputs)
                # Same inputs, same thread count: bit-identical to the serial run.
                for i, (got, want) in enumerate(zip(results, serial)):
                    if not np.array_equal(got, want):
                        mismatches.append((call, i))
                if call % 50 == 0:
                    peak_threads.append(os_thread_count())
        except BaseException as error:  # reported below, not lost in the thread
            errors.append(repr(error))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert not mismatches, (
        f"{len(mismatches)} results differ, first (call, result): {mismatches[:5]}"
    )
    # 8 Python threads, each the master of at most one OpenMP team of
    # kernel_threads - 1 helpers, plus a few for the interpreter.
    bound = baseline + 8 * kernel_threads + 4
    assert max(peak_threads) <= bound, f"{max(peak_threads)} OS threads, expected <= {bound}"
    # Teams die with their Python threads: no slow leak of OS threads.
    assert os_thread_count() <= baseline + 2


def test_first_calls_from_many_threads_at_once_do_not_deadlock(tmp_path):
    # A fresh interpreter where nothing has called a kernel yet: 8 threads
    # make their first call at the same moment, each kernel once. The first
    # call looks up numpy.ma (imported then, running Python code that lets
    # other threads take the GIL), so a one-time initialisation that waits
    # while holding the GIL would hang here.
    result = run_script(
        tmp_path,
        """
        import json, threading
        import numpy as np
        import denseops

        x = np.linspace(-1, 1, 64, dtype=np.float32).reshape(8, 8)
        start = threading.Barrier(8)
        answers = [None] * 8

        def work(i):
            start.wait()
            answers[i] = [float(denseops.relu(x).sum()), float(denseops.add(x, x).sum()),
                          float(denseops.dot(x[0], x[1])), float(denseops.matmul(x, x).sum())]

        threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        print(json.dumps(answers))
    """,
    )
    assert len(result) == 8 and all(answer == result[0] for answer in result)


def test_the_gil_is_released_while_a_kernel_runs():
    # With a huge switch interval the interpreter never takes the GIL from a
    # thread running Python code; the main thread can only run while the
    # worker is inside the kernel if the kernel itself let go of the GIL.
    # (Several tries: on a loaded machine the worker may finish its call
    # before the main thread is scheduled.)
    a = np.random.default_rng(0).uniform(-1, 1, (500, 500))
    old_interval = sys.getswitchinterval()
    seen_inside = []
    try:
        sys.setswitchinterval(1000.0)
        for _ in range(5):
            entering, finished = threading.Event(), []

            def worker(entering=entering, finished=finished):
                entering.set()
                matmul(a, a)
                finished.append(True)

            t = threading.Thread(target=worker)
            t.start()
            entering.wait()
            seen_inside.append(not finished)
            t.join()
            if seen_inside[-1]:
                break
    finally:
        sys.setswitchinterval(old_interval)
    assert any(seen_inside), "the main thread never ran while matmul was running"


# ------------------------------------------------------------------- fork

FORK_SCRIPT = """
import json, multiprocessing as mp, sys
import numpy as np
import denseops

def work(seed):
    a = np.random.default_rng(seed).uniform(-1, 1, (300, 300))
    return (denseops.get_num_threads(),
            float(np.abs(denseops.matmul(a, a) - a @ a).max()),
            float(denseops.dot(a.ravel(), a.ravel()) - np.dot(a.ravel(), a.ravel())))

if __name__ == "__main__":
    denseops.set_num_threads(2)
    # Start the OpenMP team in the parent first: that is what breaks fork.
    parent = work(0)
    ctx = mp.get_context(sys.argv[1] if len(sys.argv) > 1 else "{method}")
    with ctx.Pool(2) as pool:
        children = pool.map_async(work, range(1, 5)).get(timeout=60)
    again = work(9)  # the parent's own team still works afterwards
    print(json.dumps({{"parent": parent, "children": children, "again": again}}))
"""


@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_multiprocessing_after_kernels_ran_in_the_parent(tmp_path, method):
    if method not in __import__("multiprocessing").get_all_start_methods():
        pytest.skip(f"start method {method!r} is not available here")
    seen = run_script(tmp_path, FORK_SCRIPT.format(method=method))
    for _threads, matmul_error, dot_error in [seen["parent"], seen["again"], *seen["children"]]:
        assert matmul_error < 1e-10 and abs(dot_error) < 1e-8, seen
    if method == "fork" and OPENMP:
        # Forked children run serially (libgomp's pool does not survive
        # fork); spawned and forkserver children start fresh and may thread.
        assert [c[0] for c in seen["children"]] == [1] * 4, seen
    assert seen["parent"][0] == (2 if OPENMP else 1)


# ------------------------------------------------------------ threadpoolctl


@pytest.mark.skipif(not OPENMP, reason="built without OpenMP")
def test_threadpoolctl_finds_the_openmp_runtime_denseops_is_linked_to(tmp_path):
    code = """
    import json
    import denseops
    from threadpoolctl import threadpool_info
    with open("/proc/self/maps") as f:
        maps = f.read()
    info = [p for p in threadpool_info() if p["user_api"] == "openmp"]
    print(json.dumps({"libs": [p["filepath"] for p in info],
                      "threads": [p["num_threads"] for p in info],
                      "mapped": [p["filepath"] in maps for p in info]}))
    """
    seen = run_script(tmp_path, code, OMP_NUM_THREADS="2")
    assert seen["libs"], "threadpool_info() lists no OpenMP runtime"
    assert all(seen["mapped"]) and seen["threads"][0] == 2, seen


@pytest.mark.skipif(not OPENMP, reason="built without OpenMP")
def test_threadpool_limits_keeps_kernels_from_starting_threads(tmp_path):
    # A fresh process: the first threaded kernel call creates the OpenMP team,
    # which shows up as new OS threads. Under threadpool_limits(1) none may.
    code = """
    import json, os
    import numpy as np
    import denseops
    from threadpoolctl import threadpool_limits
    a = np.random.default_rng(0).uniform(-1, 1, (400, 400))
    count = lambda: len(os.listdir("/proc/self/task"))
    before = count()
    with threadpool_limits(limits=1, user_api="openmp"):
        limited = denseops.get_num_threads()
        denseops.matmul(a, a); denseops.relu(np.ones(10**6))
        under_limit = count()
    denseops.matmul(a, a)
    print(json.dumps({"before": before, "under_limit": under_limit, "after": count(),
                      "limited": limited, "restored": denseops.get_num_threads()}))
    """
    seen = run_script(tmp_path, code, OMP_NUM_THREADS="2")
    assert seen["limited"] == 1 and seen["restored"] == 2, seen
    assert seen["under_limit"] == seen["before"], seen
    assert seen["after"] > seen["before"], f"the unlimited call started no thread: {seen}"


@pytest.mark.skipif(not OPENMP, reason="built without OpenMP")
def test_explicit_set_num_threads_wins_over_threadpool_limits(tmp_path):
    # Documented precedence: denseops.set_num_threads(n) is the user's own
    # choice and stays in force; threadpoolctl steers the OpenMP default.
    code = """
    import json
    import denseops
    from threadpoolctl import threadpool_limits
    denseops.set_num_threads(2)
    with threadpool_limits(limits=1, user_api="openmp"):
        print(json.dumps({"inside": denseops.get_num_threads()}))
    """
    assert run_script(tmp_path, code, OMP_NUM_THREADS="1")["inside"] == 2


def test_results_stay_correct_with_torch_loaded_first(tmp_path):
    pytest.importorskip("torch")
    code = """
    import json
    import torch  # brings its own OpenMP runtime (and threads) first
    import numpy as np
    import denseops
    a = np.random.default_rng(0).uniform(-1, 1, (200, 300)).astype(np.float32)
    b = np.random.default_rng(1).uniform(-1, 1, (300, 100)).astype(np.float32)
    torch.set_num_threads(2)
    ours = denseops.matmul(a, b)
    theirs = (torch.from_numpy(a) @ torch.from_numpy(b)).numpy()
    exact = (a.astype(np.float64) @ b).astype(np.float32)
    print(json.dumps({"ours": float(np.abs(ours - exact).max()),
                      "torch": float(np.abs(theirs - exact).max())}))
    """
    seen = run_script(tmp_path, code)
    assert seen["ours"] < 1e-4 and seen["torch"] < 1e-3, seen


def test_labels_rewritten_by_another_thread_during_the_kernel_are_not_read_again():
    # A second thread keeps writing an out-of-range label while the kernel
    # runs without the GIL. The kernel must use the values it checked (a
    # private copy): reading the caller's buffer again would index far past
    # the logits and crash (ASan: heap-buffer-overflow).
    logits = np.random.default_rng(0).standard_normal((20000, 10)).astype(np.float32)
    labels = np.zeros(20000, dtype=np.int64)
    stop = threading.Event()

    def vandal():
        while not stop.is_set():
            labels[::7] = 1 << 40
            labels[::7] = 0
            # Sleep with good labels in place, a fraction of a kernel call (about
            # 1 ms): the next bad write lands in a later call, mostly while the
            # kernel runs. Writing without pause left the bad value visible to
            # nearly every check, and on some Python versions to every one.
            time.sleep(0.0003)

    thread = threading.Thread(target=vandal)
    thread.start()
    refused = accepted = 0
    deadline = time.monotonic() + 20.0
    try:
        # Enough calls for both outcomes to happen: refusals show the bad value
        # raced the check; accepted calls show kernels ran while it was written.
        while (accepted < 100 or refused < 1) and time.monotonic() < deadline:
            try:
                loss, _ = denseops.sparse_softmax_cross_entropy(logits, labels)
            except ValueError:
                refused += 1  # the bad value was there when the labels were checked
            else:
                accepted += 1
                assert np.isfinite(loss)
    finally:
        stop.set()
        thread.join()
    assert accepted > 0, f"every call saw the bad label ({refused} refused)"


# ------------------------------------------------------------ fit from two threads


class PausingRMSprop(optimizers.RMSprop):
    """RMSprop whose first update signals `inside` and waits for `release`."""

    def __init__(self):
        super().__init__()
        self.inside, self.release = threading.Event(), threading.Event()

    def apply(self, grads, weights=None):
        if not self.inside.is_set():
            self.inside.set()
            assert self.release.wait(60), "the test never released the first fit"
        super().apply(grads, weights)


def small_model(optimizer):
    model = Sequential([Dense(8, activation="relu"), Dense(3, activation="softmax")])
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    return model


def test_fit_on_one_model_from_a_second_thread_is_refused_while_the_first_runs(rng):
    x = rng.normal(size=(64, 5)).astype(np.float32)
    y = rng.integers(0, 3, size=64)
    optimizer = PausingRMSprop()
    model = small_model(optimizer)
    outcome = {}

    def first():
        try:
            outcome["history"] = model.fit(x, y, epochs=2, batch_size=16, verbose=0, seed=0)
        except BaseException as error:  # noqa: BLE001 - handed back to the test
            outcome["error"] = error

    worker = threading.Thread(target=first)
    worker.start()
    try:
        assert optimizer.inside.wait(60), "the first fit never reached its first update"
        with pytest.raises(RuntimeError, match=r"fit\(\) is already running on this model"):
            model.fit(x, y, epochs=1, verbose=0)
        # Another model trains meanwhile: the lock is the model's, not global.
        small_model("rmsprop").fit(x, y, epochs=1, verbose=0, seed=0)
    finally:
        optimizer.release.set()
        worker.join(60)
    assert "error" not in outcome, outcome.get("error")
    assert len(outcome["history"].epoch) == 2
    # The first fit was undisturbed: same weights as an uncontested run.
    alone = small_model("rmsprop")
    alone.fit(x, y, epochs=2, batch_size=16, verbose=0, seed=0)
    for a, b in zip(model.weights, alone.weights):
        np.testing.assert_array_equal(a, b)
    model.fit(x, y, epochs=1, verbose=0)  # and the model is free again


def test_fit_that_raised_leaves_the_model_free_and_models_stay_copyable(rng):
    import copy
    import pickle

    model = small_model("rmsprop")
    with pytest.raises(ValueError):
        model.fit(np.zeros((4, 5), np.float32), np.array([0, 1, 2, 9]), verbose=0)
    x = rng.normal(size=(16, 5)).astype(np.float32)
    model.fit(x, rng.integers(0, 3, size=16), verbose=0)
    copy.deepcopy(model).fit(x, rng.integers(0, 3, size=16), verbose=0)
    pickle.loads(pickle.dumps(model)).predict(x)
