"""Seconds per epoch of the MNIST MLP: denseops vs plain NumPy vs PyTorch CPU.

The model of issue 4 - Dense(512, relu), Dense(10, softmax), sparse
categorical cross-entropy, RMSprop, batch 128, float32 - trained on the real
60000 MNIST images. Each framework runs in its own subprocess (loading torch
next to NumPy slows NumPy's small matmuls), all with the same batch size and
thread count; workers run round-robin when --rounds > 1, and the table
reports each framework's median epoch time and its ratio to denseops'.

    DENSEOPS_DATA=../shared/datasets python benchmarks/train_epoch.py
    ... --frameworks denseops,numpy --epochs 3 --rounds 2 --threads 1 --json out.json

Targets (issue 4): denseops <= 0.8x PyTorch's epoch time and <= 0.5x NumPy's.
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from denseops import bench_workers
from denseops.bench_threads import threaded_environment

FRAMEWORKS = ("denseops", "numpy", "torch")
WARMUP_STEPS = 10  # first-call costs (allocations, thread pools) stay out of the timing


def load_mnist():
    """Training and test images as float32 (N, 784) in [0, 1], labels uint8."""
    from denseops.datasets import mnist
    from denseops.mnist_mlp import load_flat

    (x_train, y_train), (x_test, y_test) = load_flat(mnist)
    return x_train, y_train, x_test, y_test


# ---------------------------------------------------------------- worker


def timed_epochs(train_step, run_epoch, x, y, batch_size, epochs):
    """Warm up with a few batches, then time `run_epoch(epoch)` for each epoch.

    Returns the seconds per epoch and what the last epoch returned.
    """
    b = batch_size
    for i in range(WARMUP_STEPS):
        train_step(x[i * b : (i + 1) * b], y[i * b : (i + 1) * b])
    seconds, last = [], None
    for epoch in range(epochs):
        start = time.perf_counter()
        last = run_epoch(epoch)
        seconds.append(time.perf_counter() - start)
    return seconds, last


def _epochs_denseops(x, y, x_test, y_test, args):
    import denseops
    from denseops.mnist_mlp import compiled_mlp

    denseops.set_num_threads(args.threads)
    model = compiled_mlp(seed=args.seed)
    seconds, history = timed_epochs(
        model.train_step,
        lambda epoch: model.fit(
            x, y, epochs=1, batch_size=args.batch_size, verbose=0, seed=args.seed + epoch
        ),
        x,
        y,
        args.batch_size,
        args.epochs,
    )
    _, test_accuracy = model.evaluate(x_test, y_test, verbose=0)
    logs = {k: v[-1] for k, v in history.history.items()}
    return seconds, logs["loss"], logs["accuracy"], test_accuracy, denseops.__version__


def _epochs_baseline(framework, x, y, x_test, y_test, args):
    """numpy_mlp.py's or torch_mlp.py's model: the same train_step / fit_epoch / evaluate."""
    if framework == "numpy":
        from numpy_mlp import NumpyMLP as Model

        version = np.__version__
    else:
        import torch
        from torch_mlp import TorchMLP as Model
        from torch_mlp import to_tensors

        torch.set_num_threads(args.threads)
        (x, y), (x_test, y_test) = to_tensors(x, y), to_tensors(x_test, y_test)
        version = torch.__version__
    model = Model(seed=args.seed)
    seconds, (loss, accuracy) = timed_epochs(
        model.train_step,
        lambda epoch: model.fit_epoch(
            x, y, args.batch_size, np.random.default_rng(args.seed + epoch)
        ),
        x,
        y,
        args.batch_size,
        args.epochs,
    )
    return seconds, loss, accuracy, model.evaluate(x_test, y_test), version


def worker(args):
    """Train one framework and print one JSON line with its epoch times."""
    x, y, x_test, y_test = load_mnist()
    if args.worker == "denseops":
        result = _epochs_denseops(x, y, x_test, y_test, args)
    else:
        result = _epochs_baseline(args.worker, x, y, x_test, y_test, args)
    seconds, loss, accuracy, test_accuracy, version = result
    print(
        json.dumps(
            {
                "framework": args.worker,
                "version": version,
                "epoch_seconds": seconds,
                "train_loss": float(loss),
                "train_accuracy": float(accuracy),
                "test_accuracy": float(test_accuracy),
            }
        )
    )
    return 0


# ---------------------------------------------------------------- parent


def _run_worker(framework, args):
    cmd = [
        sys.executable,
        os.path.abspath(__file__),
        "--worker",
        framework,
        "--epochs",
        str(args.epochs),
        "--batch-size",
        str(args.batch_size),
        "--threads",
        str(args.threads),
        "--seed",
        str(args.seed),
    ]
    # Every library's thread pool gets the same size, set before it starts.
    return bench_workers.run_once(cmd, threaded_environment(args.threads))


def _available(framework):
    import importlib.util

    module = {"denseops": "denseops.nn", "numpy": "numpy", "torch": "torch"}[framework]
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def parent(args):
    frameworks = [f.strip() for f in args.frameworks.split(",") if f.strip()]
    unknown = [f for f in frameworks if f not in FRAMEWORKS]
    if unknown:
        raise SystemExit(f"--frameworks: unknown {unknown}; expected some of {FRAMEWORKS}")
    for f in [f for f in frameworks if not _available(f)]:
        print(
            f"skipping {f}: not importable"
            + (" (pip install torch==2.13.0)" if f == "torch" else "")
        )
        frameworks.remove(f)
    print(
        f"MNIST MLP 784-512-10, RMSprop, batch {args.batch_size}, float32, {args.threads} "
        f"thread(s); {args.epochs} epoch(s) x {args.rounds} round(s) per framework, "
        f"each framework in its own process"
    )
    results = {f: {"epoch_seconds": []} for f in frameworks}
    for r in range(args.rounds):
        for f in frameworks:
            print(f"  round {r + 1}/{args.rounds}: {f} ...", flush=True)
            out = _run_worker(f, args)
            results[f]["epoch_seconds"] += out["epoch_seconds"]
            results[f].update({k: v for k, v in out.items() if k != "epoch_seconds"})
    for f in frameworks:
        results[f]["median_epoch_seconds"] = statistics.median(results[f]["epoch_seconds"])
    base = results.get("denseops", {}).get("median_epoch_seconds")
    print(
        f"\n{'framework':<10} {'version':<12} {'s/epoch':>8} {'denseops/this':>14} "
        f"{'train acc':>10} {'test acc':>9}"
    )
    for f in frameworks:
        r = results[f]
        ratio = f"{base / r['median_epoch_seconds']:.2f}x" if base else "-"
        print(
            f"{f:<10} {r['version']:<12} {r['median_epoch_seconds']:8.2f} {ratio:>14} "
            f"{r['train_accuracy']:10.4f} {r['test_accuracy']:9.4f}"
        )
    print(
        "\ns/epoch: median over all timed epochs (after a warm-up of "
        f"{WARMUP_STEPS} batches); denseops/this: denseops' epoch time divided by this one's "
        "(targets: <= 0.8 vs torch, <= 0.5 vs numpy)."
    )
    if args.json:
        saved = {
            "threads": args.threads,
            "batch_size": args.batch_size,
            "epochs": args.epochs,
            "rounds": args.rounds,
            "results": results,
        }
        Path(args.json).write_text(json.dumps(saved, indent=1))
        print(f"Saved {args.json}")
    return 0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--frameworks", default=",".join(FRAMEWORKS))
    p.add_argument("--epochs", type=int, default=2, help="timed epochs per run (default 2)")
    p.add_argument(
        "--rounds", type=int, default=1, help="runs per framework, interleaved (default 1)"
    )
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", metavar="PATH")
    p.add_argument("--worker", choices=FRAMEWORKS, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if min(args.epochs, args.rounds, args.batch_size, args.threads) < 1:
        p.error("--epochs, --rounds, --batch-size and --threads must be >= 1")
    return worker(args) if args.worker else parent(args)


if __name__ == "__main__":
    raise SystemExit(main())
