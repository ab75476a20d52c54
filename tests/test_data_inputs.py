"""fit / evaluate / predict on data that is not one in-memory array: Python
generators, PyDataset, and memory-mapped arrays read batch by batch."""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from denseops.nn import Dense, Sequential, utils
from denseops.nn.data_adapters import PyDataset

FEATURES, CLASSES, SAMPLES, BATCH = 6, 3, 96, 16


def model(seed=0):
    m = Sequential([Dense(8, activation="relu"), Dense(CLASSES, activation="softmax")])
    m.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    m.build((None, FEATURES), seed=seed)
    return m


@pytest.fixture
def data(rng):
    x = rng.normal(size=(SAMPLES, FEATURES)).astype(np.float32)
    return x, rng.integers(0, CLASSES, size=SAMPLES)


def batches_of(x, y, *extra):
    for start in range(0, len(x), BATCH):
        yield (
            x[start : start + BATCH],
            y[start : start + BATCH],
            *(e[start : start + BATCH] for e in extra),
        )


def forever(x, y):
    while True:
        yield from batches_of(x, y)


class Batches(PyDataset):
    def __init__(self, x, y):
        super().__init__()
        self.x, self.y = x, y
        self.epochs_ended = 0
        self.asked = []  # the batch indices, in the order fit asked for them

    def __len__(self):
        return -(-len(self.x) // BATCH)

    def __getitem__(self, i):
        self.asked.append(i)
        return self.x[i * BATCH : (i + 1) * BATCH], self.y[i * BATCH : (i + 1) * BATCH]

    def on_epoch_end(self):
        self.epochs_ended += 1


def assert_same_weights(a, b):
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)


def test_fit_on_a_generator_or_pydataset_equals_fit_on_the_arrays_in_order(data):
    x, y = data
    steps = SAMPLES // BATCH
    reference = model()
    expected = reference.fit(x, y, batch_size=BATCH, epochs=3, shuffle=False, verbose=0)
    from_generator = model()
    history = from_generator.fit(forever(x, y), epochs=3, steps_per_epoch=steps, verbose=0)
    assert_same_weights(from_generator, reference)
    assert history.history == expected.history
    dataset = Batches(x, y)
    from_dataset = model()
    from_dataset.fit(dataset, epochs=3, shuffle=False, verbose=0)
    assert_same_weights(from_dataset, reference)
    assert dataset.epochs_ended == 3


def test_fit_shuffles_a_pydatasets_batch_order_each_epoch_as_keras_does(data):
    x, y = data
    steps = SAMPLES // BATCH
    orders = []
    for _ in range(2):
        dataset = Batches(x, y)
        model().fit(dataset, epochs=3, verbose=0, seed=4)  # shuffle=True, Keras's default
        orders.append([dataset.asked[e * steps : (e + 1) * steps] for e in range(3)])
    assert orders[0] == orders[1]  # the fit's seed decides it
    assert all(sorted(epoch) == list(range(steps)) for epoch in orders[0])  # each batch once
    assert orders[0][0] != orders[0][1] or orders[0][1] != orders[0][2]  # and it changes
    assert orders[0][0] != list(range(steps))


def test_a_generator_that_ends_trains_on_what_it_gave_then_stops_with_a_warning(data):
    x, y = data
    m = model()
    with pytest.warns(UserWarning, match=r"x ran out of data after 0 batch\(es\) of this epoch"):
        history = m.fit(batches_of(x, y), epochs=3, verbose=0)
    assert history.epoch == [0]  # one epoch of all its batches, then nothing left
    reference = model()
    reference.fit(x, y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
    assert_same_weights(m, reference)


def test_weights_class_weights_and_validation_from_generators(data, rng):
    x, y = data
    w = rng.uniform(0.5, 2, size=SAMPLES)
    reference = model()
    expected = reference.fit(
        x, y, batch_size=BATCH, sample_weight=w, shuffle=False, verbose=0,
        validation_data=(x[:32], y[:32]),
    )  # fmt: skip
    m = model()
    history = m.fit(batches_of(x, y, w), verbose=0, validation_data=Batches(x[:32], y[:32]))
    assert_same_weights(m, reference)
    assert history.history == expected.history
    class_weight = {0: 1.0, 1: 2.0, 2: 0.5}
    reference = model()
    reference.fit(x, y, batch_size=BATCH, class_weight=class_weight, shuffle=False, verbose=0)
    m = model()
    m.fit(batches_of(x, y), class_weight=class_weight, verbose=0)
    assert_same_weights(m, reference)


def test_evaluate_and_predict_on_generators_and_pydataset(data):
    x, y = data
    m = model()
    expected = m.evaluate(x, y, verbose=0)
    assert m.evaluate(Batches(x, y), verbose=0) == pytest.approx(expected)
    assert m.evaluate(forever(x, y), steps=SAMPLES // BATCH, verbose=0) == pytest.approx(expected)
    probabilities = m.predict(x, verbose=0)
    np.testing.assert_array_equal(m.predict(Batches(x, y), verbose=0), probabilities)
    xs_only = (x[s : s + BATCH] for s in range(0, SAMPLES, BATCH))
    np.testing.assert_array_equal(m.predict(xs_only, verbose=0), probabilities)
    two = m.predict(forever(x, y), steps=2, verbose=0)
    np.testing.assert_array_equal(two, probabilities[: 2 * BATCH])


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda m, x, y: m.fit(forever(x, y), y, steps_per_epoch=2, verbose=0),
            ValueError,
            r"y must be None when x is a generator or PyDataset",
        ),
        (
            lambda m, x, y: m.fit(
                forever(x, y), validation_split=0.2, steps_per_epoch=2, verbose=0
            ),
            ValueError,
            r"validation_split needs arrays",
        ),
        (
            lambda m, x, y: m.fit(x, y, steps_per_epoch=2, verbose=0),
            ValueError,
            r"steps_per_epoch is for generators and PyDataset inputs",
        ),
        (
            lambda m, x, y: m.fit(iter([(x, y, y, y)]), verbose=0),
            ValueError,
            r"x must yield x, \(x,\), \(x, y\) or \(x, y, sample_weight\) batches. "
            r"Received: tuple of length 4",
        ),
        (
            lambda m, x, y: m.fit(iter([(x[:, :2], y)]), verbose=0),
            ValueError,
            r"expects input of shape \(batch, 6\)",
        ),
        (
            lambda m, x, y: m.evaluate(x, y, steps=3, verbose=0),
            ValueError,
            r"steps is for generators and PyDataset inputs",
        ),
        (
            lambda m, x, y: m.predict(iter([]), verbose=0),
            ValueError,
            r"nothing to predict",
        ),
    ],
)
def test_stream_inputs_refuse_what_does_not_fit_them(data, call, error, message):
    x, y = data
    with pytest.raises(error, match=message):
        call(model(), x, y)


def test_an_unbuilt_model_builds_from_the_first_batch_with_the_fit_seed(data):
    x, y = data
    runs = []
    for _ in range(2):
        m = Sequential([Dense(8, activation="relu"), Dense(CLASSES, activation="softmax")])
        m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
        m.fit(forever(x, y), steps_per_epoch=3, epochs=2, verbose=0, seed=5)
        runs.append(m)
    assert_same_weights(*runs)


# ------------------------------------------------------------ memory-mapped arrays


def test_a_memory_mapped_array_trains_evaluates_and_predicts_as_the_array_does(data, tmp_path):
    x, y = data
    pixels = (np.abs(x) * 40).astype(np.uint8)  # images on disk are often uint8
    np.save(tmp_path / "x.npy", pixels)
    mapped = np.load(tmp_path / "x.npy", mmap_mode="r")
    assert isinstance(mapped, np.memmap)
    in_memory, on_disk = model(), model()
    a = in_memory.fit(
        pixels, y, batch_size=BATCH, epochs=2, verbose=0, seed=3, validation_split=0.25
    )
    b = on_disk.fit(mapped, y, batch_size=BATCH, epochs=2, verbose=0, seed=3, validation_split=0.25)
    assert_same_weights(in_memory, on_disk)
    assert a.history == b.history
    np.testing.assert_array_equal(
        on_disk.predict(mapped, batch_size=10, verbose=0), in_memory.predict(pixels, verbose=0)
    )
    assert on_disk.evaluate(mapped, y, batch_size=10, verbose=0) == pytest.approx(
        in_memory.evaluate(pixels, y, verbose=0)
    )


def test_a_memory_mapped_array_with_nan_is_refused_before_training(tmp_path, data):
    x, y = data
    x = x.copy()
    x[70, 4] = np.nan
    np.save(tmp_path / "x.npy", x)
    mapped = np.load(tmp_path / "x.npy", mmap_mode="r")
    m = model()
    before = m.get_weights()
    with pytest.raises(ValueError, match=r"x contains NaN or Inf, first at index \(70, 4\)"):
        m.fit(mapped, y, verbose=0)
    for a, b in zip(before, m.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_training_on_a_memory_map_larger_than_the_memory_it_uses(tmp_path):
    # 256 MB of uint8 samples on disk; the process may grow by a fraction of it.
    script = textwrap.dedent(
        f"""
        import json, resource, numpy as np
        from denseops.nn import Sequential, Dense
        rows, features = 65536, 4096
        x = np.lib.format.open_memmap({str(tmp_path / "x.npy")!r}, mode="w+", dtype=np.uint8,
                                      shape=(rows, features))
        for start in range(0, rows, 4096):
            x[start:start + 4096] = np.arange(features, dtype=np.uint8) + start // 4096
        x.flush()
        del x
        y = np.arange(rows) % 2
        mapped = np.load({str(tmp_path / "x.npy")!r}, mmap_mode="r")
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        model = Sequential([Dense(4, activation="relu"), Dense(2, activation="softmax")])
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
        model.fit(mapped, y, batch_size=256, epochs=1, verbose=0, shuffle=False)
        model.predict(mapped, verbose=0)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        print(json.dumps({{"data": mapped.nbytes, "before": before, "peak": peak}}))
        """
    )
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=600, check=False
    )
    assert run.returncode == 0, run.stderr
    figures = json.loads(run.stdout.strip().splitlines()[-1])
    # Resident pages of the file count towards RSS as they are read, so the
    # bound is on what the process itself allocated: well below the data.
    grown = figures["peak"] - figures["before"]
    assert figures["data"] == 65536 * 4096
    assert grown < figures["data"] / 2, figures


def test_set_random_seed_seeds_pydataset_free_runs_too(data):
    x, y = data
    utils.set_random_seed(1)
    a = Sequential([Dense(4), Dense(1)])
    a.build((None, FEATURES))
    utils.set_random_seed(1)
    b = Sequential([Dense(4), Dense(1)])
    b.build((None, FEATURES))
    assert_same_weights(a, b)
