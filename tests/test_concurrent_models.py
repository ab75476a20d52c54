"""Models and estimators used from several Python threads at once.

The guarantees (README, "Guarantees"): a thread count given to one call
(``local_threads``, an estimator's ``n_threads``) belongs to that call's
thread; ``predict``/``evaluate``/``model(x)`` are safe from any number of
threads and beside ``fit`` in another thread, each computing on the weights
as they are between two updates, without disturbing the fit; a second
``fit``/``train_step`` on a model that is training is refused
(test_concurrency.py).
"""

import threading
import warnings

import denseops
import numpy as np
import pytest
from denseops.nn import Dense, Sequential, callbacks, optimizers

FEATURES, CLASSES = 5, 3


def small_model(optimizer="rmsprop"):
    model = Sequential([Dense(32, activation="relu"), Dense(CLASSES, activation="softmax")])
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    return model


def run_threads(*targets):
    """Runs each target in its own thread; re-raises the first error."""
    errors = []

    def guarded(target):
        try:
            target()
        except BaseException as error:  # noqa: BLE001 - handed back to the test
            errors.append(error)

    threads = [threading.Thread(target=guarded, args=(t,)) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
        assert not thread.is_alive(), "a thread did not finish (a deadlock?)"
    if errors:
        raise errors[0]


# ------------------------------------------------------------ thread counts


def test_local_threads_belong_to_the_calling_thread_only():
    denseops.set_num_threads(2)
    both_inside = threading.Barrier(2)
    seen = {}

    def worker(n):
        def run():
            with denseops.local_threads(n):
                both_inside.wait(30)  # the other thread is inside its own block now
                seen[n] = denseops.get_num_threads()
                with denseops.local_threads(n + 10):  # blocks nest
                    seen[n + 10] = denseops.get_num_threads()
                seen[-n] = denseops.get_num_threads()
                both_inside.wait(30)

        return run

    run_threads(worker(1), worker(3))
    assert seen == {1: 1, 3: 3, 11: 11, 13: 13, -1: 1, -3: 3}
    assert denseops.get_num_threads() == 2  # the process default never moved


@pytest.mark.parametrize(
    ("n", "error", "message"),
    [
        (0, ValueError, r"local_threads: n must be between 1 and 1024, got 0"),
        (2000, ValueError, r"local_threads: n must be between 1 and 1024, got 2000"),
        (1.5, TypeError, r"local_threads: n must be an int >= 1, got float"),
        (True, TypeError, r"local_threads: n must be an int >= 1, got bool"),
    ],
)
def test_local_threads_refuses_a_bad_count_and_changes_nothing(n, error, message):
    denseops.set_num_threads(2)
    with pytest.raises(error, match=message):
        with denseops.local_threads(n):
            pass
    assert denseops.get_num_threads() == 2


def test_local_threads_accepts_numpy_integers_and_none():
    denseops.set_num_threads(2)
    with denseops.local_threads(np.int64(1)):
        assert denseops.get_num_threads() == 1
    with denseops.local_threads(None):
        assert denseops.get_num_threads() == 2


def test_estimators_with_other_n_threads_in_other_threads_leave_every_count_alone(rng):
    pytest.importorskip("sklearn", reason="the scikit-learn drop-ins need scikit-learn")
    from denseops.sklearn import MLPClassifier

    x = rng.normal(size=(256, FEATURES)).astype(np.float32)
    y = rng.integers(0, CLASSES, size=256)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning: 5 iterations are enough here
        estimators = [
            MLPClassifier((16,), max_iter=5, n_threads=n, random_state=0).fit(x, y) for n in (1, 2)
        ]
    expected = [e.predict_proba(x) for e in estimators]
    denseops.set_num_threads(2)
    watching = threading.Event()
    finished = []
    seen_here = set()

    def predicting(estimator, want):
        def run():
            try:
                assert watching.wait(60), "the watcher never started"
                for _ in range(150):
                    np.testing.assert_array_equal(estimator.predict_proba(x), want)
            finally:  # done, or failed: either way the watcher may stop
                finished.append(True)

        return run

    def watching_loop():
        # The process default, read from a thread with no count of its own,
        # all the while the estimators run with theirs (at least once, even
        # if they are done before this thread gets a turn).
        watching.set()
        while True:
            seen_here.add(denseops.get_num_threads())
            if len(finished) == 4:
                break

    # Two threads on each estimator: one estimator's predictions never mix.
    pairs = [*zip(estimators, expected), *zip(estimators, expected)]
    run_threads(*(predicting(e, w) for e, w in pairs), watching_loop)
    assert seen_here == {2}
    assert denseops.get_num_threads() == 2


# ------------------------------------------------------------ predict beside fit


class RecordingRMSprop(optimizers.RMSprop):
    """RMSprop that keeps a copy of the weights after every update."""

    def __init__(self):
        super().__init__()
        self.snapshots = []

    def apply(self, grads, trainable_variables=None):
        super().apply(grads, trainable_variables)
        self.snapshots.append([w.copy() for w in trainable_variables])


def test_predict_during_fit_sees_weights_between_updates_and_leaves_the_fit_alone(rng):
    x = rng.normal(size=(4096, FEATURES)).astype(np.float32)
    y = rng.integers(0, CLASSES, size=4096)
    # The same sample 64 times, then 16 others: identical rows must agree.
    probe = np.concatenate([np.repeat(x[:1], 64, axis=0), x[1:17]])
    optimizer = RecordingRMSprop()
    model = small_model(optimizer)
    model.build((None, FEATURES), seed=0)
    initial = model.get_weights()
    started, finished = threading.Event(), threading.Event()
    seen = []

    def training():
        model.fit(
            x,
            y,
            epochs=2,
            batch_size=16,
            verbose=0,
            seed=0,
            callbacks=[callbacks.LambdaCallback(on_train_begin=lambda logs: started.set())],
        )
        finished.set()

    def predicting():
        assert started.wait(60)
        while not finished.is_set() or len(seen) < 5:
            seen.append(model.predict(probe, verbose=0))

    run_threads(training, predicting)
    assert len(optimizer.snapshots) == 2 * 4096 // 16
    # Every prediction is that of the weights after some number of updates.
    replay = small_model()
    replay.build((None, FEATURES))
    possible = set()
    for weights in [initial, *optimizer.snapshots]:
        replay.set_weights(weights)
        possible.add(replay.predict(probe, verbose=0).tobytes())
    for out in seen:
        assert (out[:64] == out[0]).all(), "identical rows got different predictions"
        assert out.tobytes() in possible, "a prediction mixed weights of two updates"
    # And the fit itself went as it goes alone.
    alone = small_model()
    alone.build((None, FEATURES), seed=0)
    alone.fit(x, y, epochs=2, batch_size=16, verbose=0, seed=0)
    for a, b in zip(model.get_weights(), alone.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_predict_from_many_threads_at_once_matches_one_thread(rng):
    model = small_model()
    model.build((None, FEATURES), seed=0)
    inputs = [rng.normal(size=(n, FEATURES)).astype(np.float32) for n in (1, 7, 64, 300)]
    expected = [model.predict(x, verbose=0) for x in inputs]

    def predicting(offset):
        def run():
            for i in range(200):
                k = (i + offset) % len(inputs)
                np.testing.assert_array_equal(model.predict(inputs[k], verbose=0), expected[k])
                np.testing.assert_array_equal(model(inputs[k]), expected[k])

        return run

    run_threads(*(predicting(offset) for offset in range(4)))


def test_evaluate_during_fit_is_right_for_the_weights_it_saw(rng):
    x = rng.normal(size=(2048, FEATURES)).astype(np.float32)
    y = rng.integers(0, CLASSES, size=2048)
    model = small_model()
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.build((None, FEATURES), seed=0)
    finished = threading.Event()
    results = []

    def training():
        model.fit(x, y, epochs=2, batch_size=16, verbose=0, seed=0)
        finished.set()

    def evaluating():
        while not finished.is_set():
            results.append(model.evaluate(x[:64], y[:64], verbose=0))

    run_threads(training, evaluating)
    assert results and all(np.isfinite(loss) and 0 <= acc <= 1 for loss, acc in results)


def test_set_weights_from_inside_a_predict_callback_is_refused_not_a_deadlock(rng):
    model = small_model()
    model.build((None, FEATURES), seed=0)
    weights = model.get_weights()

    class Vandal(callbacks.Callback):
        def on_predict_batch_end(self, batch, logs=None):
            self.model.set_weights(weights)

    with pytest.raises(RuntimeError, match=r"set_weights\(\) cannot change the weights while"):
        model.predict(rng.normal(size=(4, FEATURES)), callbacks=[Vandal()], verbose=0)
    model.set_weights(weights)  # and the lock was released


def test_training_mode_call_is_refused_while_fit_runs(rng):
    x = rng.normal(size=(64, FEATURES)).astype(np.float32)
    y = rng.integers(0, CLASSES, size=64)
    model = small_model()
    outcome = {}

    class Probe(callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 0:
                try:
                    model(x, training=True)
                except RuntimeError as error:
                    outcome["error"] = str(error)
                outcome["inference"] = model(x).shape  # inference is fine

    model.fit(x, y, epochs=1, batch_size=16, verbose=0, callbacks=[Probe()])
    assert "__call__(training=True) cannot run while fit()" in outcome["error"]
    assert outcome["inference"] == (64, CLASSES)
