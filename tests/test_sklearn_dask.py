"""Scale-out on Dask: searches through joblib's Dask backend, batch inference with dask.array.

A LocalCluster of two worker processes on loopback stands in for a real
cluster; the code is the same against a scheduler address (README).
"""

import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="the [sklearn] extra is not installed")
distributed = pytest.importorskip("dask.distributed", reason="the [dask] extra is not installed")

import dask.array as da  # noqa: E402
import denseops  # noqa: E402
import joblib  # noqa: E402
from denseops.sklearn import MLPClassifier  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV, cross_val_score  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def client():
    with warnings.catch_warnings():
        # the cluster's own start-up chatter is not what these tests check
        warnings.simplefilter("ignore")
        cluster = distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        )
        client = distributed.Client(cluster)
    try:
        yield client
    finally:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            client.close()
            cluster.close()


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X / 16.0).astype(np.float32), y


def _search(cls, **kwargs):
    return cls(
        MLPClassifier(hidden_layer_sizes=(32,), max_iter=15, random_state=0),
        cv=3,
        n_jobs=-1,
        **kwargs,
    )


def test_dask_workers_run_one_kernel_thread_each(client):
    # Dask's nanny sets OMP_NUM_THREADS=1 in each worker process before it
    # starts (distributed.nanny.pre-spawn-environ) and denseops reads it, so
    # 2 worker processes x 1 task thread x 1 kernel thread = 2 cores.
    threads = client.run(denseops.get_num_threads)
    assert len(threads) == 2 and set(threads.values()) == {1}


@pytest.mark.parametrize(
    "make_search",
    [
        lambda: _search(
            GridSearchCV, param_grid={"alpha": [1e-4, 1e-2], "learning_rate_init": [1e-3, 1e-2]}
        ),
        lambda: _search(
            RandomizedSearchCV,
            param_distributions={"alpha": [1e-5, 1e-4, 1e-3, 1e-2]},
            n_iter=3,
            random_state=0,
        ),
    ],
    ids=["GridSearchCV", "RandomizedSearchCV"],
)
def test_dask_search_gives_the_serial_results(client, digits, make_search):
    X, y = digits
    serial = make_search().set_params(n_jobs=1).fit(X, y)
    with joblib.parallel_backend("dask"), distributed.get_task_stream(client) as tasks:
        spread = make_search().fit(X, y)
    # The fits ran as tasks on both worker processes.
    assert len({task["worker"] for task in tasks.data}) == 2
    for key in ("mean_test_score", "split0_test_score", "params"):
        assert list(serial.cv_results_[key]) == list(spread.cv_results_[key])
    assert serial.best_params_ == spread.best_params_
    for a, b in zip(serial.best_estimator_.coefs_, spread.best_estimator_.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_dask_cross_val_score_gives_the_serial_scores(client, digits):
    X, y = digits
    model = MLPClassifier(hidden_layer_sizes=(16,), max_iter=10, random_state=1)
    serial = cross_val_score(model, X, y, cv=4)
    with joblib.parallel_backend("dask"):
        spread = cross_val_score(model, X, y, cv=4, n_jobs=-1)
    np.testing.assert_array_equal(serial, spread)


def test_dask_array_map_blocks_predict_proba_equals_in_memory(client, digits):
    X, y = digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = MLPClassifier(hidden_layer_sizes=(32,), max_iter=10, random_state=0).fit(X, y)
    X_big = da.from_array(X, chunks=(250, X.shape[1]))
    proba = X_big.map_blocks(
        model.predict_proba, dtype=np.float32, chunks=(X_big.chunks[0], (len(model.classes_),))
    )
    assert proba.npartitions > 1
    result = proba.compute()
    np.testing.assert_allclose(result, model.predict_proba(X), rtol=1e-6, atol=1e-7)
    labels = X_big.map_blocks(model.predict, dtype=model.classes_.dtype, drop_axis=1).compute()
    np.testing.assert_array_equal(labels, model.predict(X))


# ------------------------------------------------------------ dask-ml wrappers


def test_incremental_streams_blocks_of_a_dask_array_through_partial_fit(client, digits):
    wrappers = pytest.importorskip("dask_ml.wrappers", reason="dask-ml is not installed")
    X, y = digits
    blocks = da.from_array(X, chunks=(300, X.shape[1]))
    labels = da.from_array(y, chunks=300)
    incremental = wrappers.Incremental(
        MLPClassifier(hidden_layer_sizes=(32,), learning_rate_init=0.01, random_state=0),
        scoring="accuracy",
        shuffle_blocks=False,  # the blocks in order, as the loop below takes them
    )
    incremental.fit(blocks, labels, classes=np.unique(y))  # one pass over the blocks
    for _ in range(7):  # seven more, continuing from the first
        incremental.partial_fit(blocks, labels, classes=np.unique(y))
    # The same passes, block by block, by hand: the wrapper adds nothing else.
    by_hand = MLPClassifier(hidden_layer_sizes=(32,), learning_rate_init=0.01, random_state=0)
    for _ in range(8):
        for start in range(0, len(X), 300):
            by_hand.partial_fit(
                X[start : start + 300], y[start : start + 300], classes=np.unique(y)
            )
    for a, b in zip(incremental.estimator_.coefs_, by_hand.coefs_):
        np.testing.assert_array_equal(a, b)
    assert incremental.score(blocks, labels) > 0.8


def test_parallel_post_fit_predicts_a_dask_array_on_the_cluster(client, digits):
    wrappers = pytest.importorskip("dask_ml.wrappers", reason="dask-ml is not installed")
    X, y = digits
    fitted = MLPClassifier(hidden_layer_sizes=(32,), max_iter=30, random_state=0).fit(X, y)
    wrapped = wrappers.ParallelPostFit(fitted)
    lazy = wrapped.predict_proba(da.from_array(X, chunks=(400, X.shape[1])))
    np.testing.assert_allclose(lazy.compute(), fitted.predict_proba(X), rtol=1e-6)


def test_incremental_trains_on_a_dask_array_larger_than_the_memory_it_uses(tmp_path):
    pytest.importorskip("dask_ml.wrappers", reason="dask-ml is not installed")
    import json
    import subprocess
    import sys
    import textwrap

    # 1 GiB of float32 features, made block by block on demand and never held
    # whole; the process may grow by a small fraction of it.
    script = textwrap.dedent(
        """
        import json, resource, warnings
        import dask, dask.array as da, numpy as np
        from dask_ml.wrappers import Incremental
        from denseops.sklearn import MLPClassifier
        warnings.simplefilter("ignore")
        dask.config.set(scheduler="synchronous")  # one block at a time
        rows, features, chunk = 1 << 20, 256, 1 << 14
        X = da.random.RandomState(0).random_sample((rows, features), chunks=(chunk, features))
        X = X.astype(np.float32)
        y = (X[:, 0] > 0.5).astype(np.int64)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        model = Incremental(MLPClassifier((16,), learning_rate_init=0.01, random_state=0))
        model.fit(X, y, classes=[0, 1])
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        print(json.dumps({"data": rows * features * 4, "before": before, "peak": peak,
                          "trained": int(model.estimator_.n_iter_)}))
        """
    )
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=900, check=False
    )
    assert run.returncode == 0, run.stderr
    figures = json.loads(run.stdout.strip().splitlines()[-1])
    assert figures["data"] == 1 << 30 and figures["trained"] >= 1
    assert figures["peak"] - figures["before"] < figures["data"] / 8, figures
