"""Latency of `model.predict` on the MNIST MLP against what it is made of.

Dense(512, relu) + Dense(10, softmax), float32, seeded random weights. For a
batch of 1 and of 128 it times, in one process with alternating rounds:
`model.predict(x, verbose=0)`, the same forward pass by hand in NumPy, and
the two bare denseops matmuls (a lower bound for any denseops forward pass).
The table gives medians and NumPy's time divided by each.

    OMP_NUM_THREADS=1 python benchmarks/predict_latency.py [--rounds 15]
"""

import argparse
import statistics
import time

import denseops
import numpy as np
from denseops.nn import Dense, Sequential


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    model = Sequential([Dense(512, activation="relu"), Dense(10, activation="softmax")])
    model.build((None, 784), seed=0)
    w1, b1, w2, b2 = model.get_weights()

    def numpy_by_hand(x):
        z = np.maximum(x @ w1 + b1, 0) @ w2 + b2
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    cases = {
        "model.predict": lambda x: model.predict(x, verbose=0),
        "NumPy by hand": numpy_by_hand,
        "two denseops matmuls": lambda x: denseops.matmul(denseops.matmul(x, w1), w2),
    }
    rng = np.random.default_rng(0)
    print(f"threads={denseops.get_num_threads()} arch={denseops.get_arch()}")
    for batch in (1, 128):
        x = rng.random((batch, 784), dtype=np.float32)
        np.testing.assert_allclose(
            model.predict(x, verbose=0), numpy_by_hand(x), rtol=1e-4, atol=1e-6
        )
        calls = 2000 if batch == 1 else 200
        samples = {name: [] for name in cases}
        for round_ in range(args.rounds):
            order = list(cases.items())
            for name, f in order if round_ % 2 == 0 else reversed(order):
                f(x)  # untimed: caches and buffers warm
                start = time.perf_counter()
                for _ in range(calls):
                    f(x)
                samples[name].append((time.perf_counter() - start) / calls)
        reference = statistics.median(samples["NumPy by hand"])
        print(f"batch {batch}:")
        for name, times in samples.items():
            median = statistics.median(times)
            print(f"  {name:22s} {median * 1e6:9.1f} us   NumPy / this = {reference / median:.2f}")


if __name__ == "__main__":
    main()
