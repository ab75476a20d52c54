"""scikit-learn's MLPClassifier vs denseops.sklearn's, as a user switching the import sees it.

Two parts, both on this machine's real data:

1. Fit time and test accuracy, each fit in its own fresh process (imports
   and data loading are not timed), libraries alternating round by round,
   median of the rounds, at 1 and 2 threads (threadpoolctl caps NumPy's
   BLAS for scikit-learn, denseops.set_num_threads caps denseops):
     * MNIST: hidden_layer_sizes=(512,), batch_size=128, solver="adam",
       max_iter=5, random_state=0, float32 pixels in [0, 1] (60000 / 10000);
     * load_digits: the defaults (hidden (100,), batch 200, up to 200
       epochs), random_state=0, a 75/25 split.
   Target (issue 13): >= 5x faster at equal test accuracy (within 0.5 points).

2. A 5-fold GridSearchCV over 4 settings (alpha x learning_rate_init) of
   denseops' MLPClassifier on 10000 MNIST images: serial (n_jobs=1, the
   kernels on 2 threads) vs joblib's Dask backend on a LocalCluster of 2
   worker processes x 1 thread (Dask sets OMP_NUM_THREADS=1 in each worker).

    DENSEOPS_DATA=../shared/datasets python benchmarks/sklearn_mlp.py
    ... --rounds 3 --threads 1,2 --cases mnist,digits --no-search --json out.json
"""

import argparse
import json
import os
import statistics
import sys
import time
import warnings

import numpy as np
from denseops import bench_machine, bench_workers

LIBRARIES = ("sklearn", "denseops")
CASES = ("mnist", "digits")


def load_case(case):
    """(x_train, y_train, x_test, y_test) as float32 features."""
    if case == "mnist":
        from denseops.datasets import mnist
        from denseops.mnist_mlp import load_flat

        (x_train, y_train), (x_test, y_test) = load_flat(mnist)
        return x_train, y_train, x_test, y_test
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    x_train, x_test, y_train, y_test = train_test_split(X, y, random_state=0)
    return x_train, y_train, x_test, y_test


def case_params(case):
    if case == "mnist":
        return dict(
            hidden_layer_sizes=(512,), batch_size=128, solver="adam", max_iter=5, random_state=0
        )
    return dict(random_state=0)


def classifier(library):
    if library == "sklearn":
        from sklearn.neural_network import MLPClassifier
    else:
        from denseops.sklearn import MLPClassifier
    return MLPClassifier


# ---------------------------------------------------------------- one fit, in a worker process


def worker(library, case, threads):
    import denseops
    from sklearn.exceptions import ConvergenceWarning
    from threadpoolctl import threadpool_limits

    denseops.set_num_threads(threads)
    x_train, y_train, x_test, y_test = load_case(case)
    model = classifier(library)(**case_params(case))
    with threadpool_limits(limits=threads), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        model.fit(x_train, y_train)
        seconds = time.perf_counter() - start
        accuracy = model.score(x_test, y_test)
    print(json.dumps({"seconds": seconds, "accuracy": accuracy, "epochs": model.n_iter_}))


def run_worker(library, case, threads):
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    return bench_workers.run_once(
        [sys.executable, __file__, "--worker", library, case, str(threads)], env
    )


def compare(cases, threads_list, rounds):
    rows = []
    for case in cases:
        for threads in threads_list:
            samples = {lib: [] for lib in LIBRARIES}
            for r in range(rounds):
                order = LIBRARIES if r % 2 == 0 else LIBRARIES[::-1]
                for lib in order:
                    samples[lib].append(run_worker(lib, case, threads))
            row = {"case": case, "threads": threads}
            for lib in LIBRARIES:
                row[f"{lib}_s"] = statistics.median(s["seconds"] for s in samples[lib])
                row[f"{lib}_acc"] = samples[lib][0]["accuracy"]
                row[f"{lib}_epochs"] = samples[lib][0]["epochs"]
            row["speedup"] = row["sklearn_s"] / row["denseops_s"]
            row["met"] = (
                row["speedup"] >= 5 and abs(row["sklearn_acc"] - row["denseops_acc"]) <= 0.005
            )
            rows.append(row)
            print(
                f"{case:7s} {threads} thr  scikit-learn {row['sklearn_s']:7.2f} s "
                f"(acc {row['sklearn_acc']:.4f}, {row['sklearn_epochs']} ep)  denseops "
                f"{row['denseops_s']:6.2f} s (acc {row['denseops_acc']:.4f}, "
                f"{row['denseops_epochs']} ep)  {row['speedup']:5.2f}x  "
                f"target {'met' if row['met'] else 'NOT met'}",
                flush=True,
            )
    return rows


# ---------------------------------------------------------------- grid search, serial vs Dask


def grid_search(samples=10_000):
    import denseops
    import joblib
    from dask.distributed import Client, LocalCluster
    from denseops.sklearn import MLPClassifier
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import GridSearchCV

    x_train, y_train, _, _ = load_case("mnist")
    X, y = x_train[:samples], y_train[:samples]

    def search(n_jobs):
        model = MLPClassifier(hidden_layer_sizes=(256,), batch_size=128, max_iter=5, random_state=0)
        grid = {"alpha": [1e-4, 1e-2], "learning_rate_init": [1e-3, 3e-3]}
        return GridSearchCV(model, grid, cv=5, n_jobs=n_jobs)

    warnings.simplefilter("ignore", ConvergenceWarning)
    denseops.set_num_threads(2)
    start = time.perf_counter()
    serial = search(1).fit(X, y)
    serial_s = time.perf_counter() - start

    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        client.run(lambda: warnings.simplefilter("ignore"))
        start = time.perf_counter()
        with joblib.parallel_backend("dask"):
            spread = search(-1).fit(X, y)
        dask_s = time.perf_counter() - start
    same = list(serial.cv_results_["mean_test_score"]) == list(
        spread.cv_results_["mean_test_score"]
    )
    print(
        f"GridSearchCV 5-fold x 4 settings on {samples} MNIST images: serial (2 kernel "
        f"threads) {serial_s:.1f} s, Dask 2 workers x 1 thread {dask_s:.1f} s, "
        f"{serial_s / dask_s:.2f}x; same cv_results_: {same}; best {spread.best_params_} "
        f"{spread.best_score_:.4f}",
        flush=True,
    )
    return {
        "samples": samples,
        "serial_s": serial_s,
        "dask_s": dask_s,
        "same_results": same,
        "best_params": spread.best_params_,
        "best_score": spread.best_score_,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--worker", nargs=3, metavar=("LIBRARY", "CASE", "THREADS"), help=argparse.SUPPRESS
    )
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-search", action="store_true", help="skip the grid-search part")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    if args.worker:
        library, case, threads = args.worker
        return worker(library, case, int(threads))
    cases = [c for c in args.cases.split(",") if c]
    for case in cases:
        if case not in CASES:
            parser.error(f"--cases: unknown case {case!r}; expected some of {CASES}")
    threads_list = [int(t) for t in args.threads.split(",")]
    print(bench_machine.heading(f"{args.rounds} round(s), median"), flush=True)
    results = {"fits": compare(cases, threads_list, args.rounds)}
    if not args.no_search:
        results["grid_search"] = grid_search()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
