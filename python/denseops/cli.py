"""The `denseops` command: `train` (the main job), `bench`, and `demo`."""

import argparse
import sys
import time

import numpy as np

import denseops
from denseops import reference


def _median_seconds(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter_ns()
        fn()
        times.append(time.perf_counter_ns() - start)
    return float(np.median(times)) / 1e9


def demo(args) -> int:
    """The config, then the textbook comparison: 1000 x relu(add(x, y)) on (20, 100)."""
    denseops.show_config()
    rng = np.random.default_rng(0)
    x = rng.random((20, 100))
    y = rng.random((20, 100))
    out = np.empty_like(x)
    n = args.iterations

    def python_loops():
        for _ in range(n):
            reference.naive_relu(reference.naive_add(x, y))

    def numpy_version():
        for _ in range(n):
            np.maximum(x + y, 0.0)

    def denseops_version():
        for _ in range(n):
            denseops.relu(denseops.add(x, y, out=out), out=out)

    print(f"\n{n} x relu(add(x, y)) on (20, 100) float64, median of 3 runs:")
    for name, fn in (("python loops", python_loops), ("numpy", numpy_version),
                     ("denseops", denseops_version)):
        print(f"  {name:<13} {_median_seconds(fn, 3) * 1e3:10.3f} ms")
    return 0


def train(args) -> int:
    from denseops import train as training
    try:
        results = training.run(
            dataset=args.dataset, epochs=args.epochs, batch_size=args.batch_size,
            optimizer=args.optimizer, learning_rate=args.learning_rate, seed=args.seed,
            threads=args.threads, data_dir=args.data_dir, save=args.save, plot=args.plot,
            verbose=args.verbose)
    # Missing or corrupt data, a bad option value, matplotlib not installed:
    # the message says what to do, a traceback would only hide it.
    except (FileNotFoundError, ValueError, ImportError) as error:
        print(f"denseops train: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as interrupt:
        print(f"\ndenseops train: {interrupt or 'interrupted'}")
        return 130
    # The result is what the command is run for: printed even when --verbose 0
    # silences the progress.
    print(f"test loss {results['test_loss']:.4f} - test accuracy "
          f"{results['test_accuracy']:.4f} - training {results['train_seconds']:.1f} s "
          f"({results['seconds_per_epoch']:.2f} s/epoch) - total {results['total_seconds']:.1f} s")
    return 0


TRAIN_EXAMPLES = """\
examples:
  train and save the model (load it with denseops.nn.load):
    denseops train --save mnist_mlp.npz
  train on Fashion-MNIST, longer:
    denseops train --dataset fashion-mnist --epochs 10
  plot loss and accuracy per epoch:
    denseops train --plot history.png
  plain SGD with a larger step:
    denseops train --optimizer sgd --learning-rate 0.1
  data from a folder (holding the IDX files, or mnist/ with them):
    denseops train --data-dir ../shared/datasets
"""


def _add_train_parser(sub):
    from denseops.train import DATASETS, OPTIMIZERS
    p = sub.add_parser(
        "train", help="train the MNIST MLP (Dense 512 relu, Dense 10 softmax)",
        description="Train the MNIST MLP (Dense 512 relu -> Dense 10 softmax, sparse\n"
                    "categorical cross-entropy) and print its test loss and accuracy.",
        epilog=TRAIN_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", choices=sorted(DATASETS), default="mnist",
                   help="data set to train and test on (default: %(default)s)")
    p.add_argument("--epochs", type=int, default=5,
                   help="passes over the training set (default: %(default)s)")
    p.add_argument("--batch-size", type=int, default=128,
                   help="samples per gradient step (default: %(default)s)")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default="rmsprop",
                   help="optimizer, with Keras's default hyperparameters (default: %(default)s)")
    p.add_argument("--learning-rate", type=float, default=None, metavar="LR",
                   help="step size (default: the optimizer's Keras default: rmsprop 0.001, "
                        "sgd 0.01, adam 0.001)")
    p.add_argument("--seed", type=int, default=0,
                   help="seeds the weight initialisation and the shuffling; the same seed and "
                        "thread count give identical weights (default: %(default)s)")
    p.add_argument("--threads", type=int, default=None, metavar="N",
                   help="OpenMP threads for the kernels (default: OMP_NUM_THREADS, else all "
                        f"usable cores: {denseops.get_num_threads()} here)")
    p.add_argument("--data-dir", default=None, metavar="DIR",
                   help="folder holding the four IDX files (raw or .gz) or <dataset>.npz, or a data "
                        "root holding <dataset>/ with them (default: $DENSEOPS_DATA if set, else "
                        "~/.cache/denseops/<dataset>/, downloading into it if empty)")
    p.add_argument("--save", metavar="PATH", default=None,
                   help="save the trained model as .npz (default: not saved)")
    p.add_argument("--plot", metavar="PATH", default=None,
                   help="write a PNG of loss and accuracy per epoch; needs matplotlib "
                        "(default: no plot)")
    p.add_argument("--verbose", type=int, choices=(0, 1, 2), default=1,
                   help="0 quiet, 1 progress bar, 2 one line per epoch (default: %(default)s)")
    p.set_defaults(func=train)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="denseops", description=__doc__)
    sub = parser.add_subparsers(dest="command", metavar="{train,bench,demo}")
    _add_train_parser(sub)
    from denseops import bench
    bench.add_parser(sub)
    p_demo = sub.add_parser("demo", help="show the config and the textbook relu+add timing")
    p_demo.add_argument("--iterations", type=int, default=1000)
    p_demo.set_defaults(func=demo)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    return args.func(args)
