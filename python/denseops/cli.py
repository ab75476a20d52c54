"""The `denseops` command: `train` (the main job), `bench`, and `demo`."""

import argparse
import os
import sys
import tempfile

import denseops

DEMO_REPEATS = 3


def demo(args) -> int:
    """The config, then the textbook comparison: 1000 x relu(add(x, y)) on (20, 100), each
    rung of the ladder timed as `denseops bench` times it."""
    from denseops import bench_cases
    from denseops.bench_ladder import measure_case
    from denseops.bench_table import format_table

    denseops.show_config()
    case = bench_cases.Case("textbook", (20, 100), "float64", "tiny", iterations=args.iterations)
    implementations = [i for i in bench_cases.IMPLEMENTATIONS if i != "torch"]
    # target_ns=0: one call per sample, the loops' call alone lasts ~1 s.
    row = measure_case(
        case, implementations, DEMO_REPEATS, target_ns=0, threads=denseops.get_num_threads()
    )
    print(f"\n{args.iterations} x relu(add(x, y)) on (20, 100) float64, median of {DEMO_REPEATS}:")
    print(format_table([row]))
    return 0


def train(args) -> int:
    from denseops import train as training

    try:
        results = training.run(
            dataset=args.dataset,
            epochs=args.epochs,
            batch_size=args.batch_size,
            optimizer=args.optimizer,
            learning_rate=args.learning_rate,
            seed=args.seed,
            threads=args.threads,
            data_dir=args.data_dir,
            save=args.save,
            plot=args.plot,
            verbose=args.verbose,
        )
    # Missing or corrupt data, a full disk, matplotlib not installed, a diverging
    # run: the message says what to do, a traceback would only hide it.
    except (OSError, ValueError, ImportError, FloatingPointError) as error:
        print(f"denseops train: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as interrupt:
        # A bare Ctrl-C (during data loading, say) has no message of its own.
        print(f"\ndenseops train: {str(interrupt) or 'interrupted'}", file=sys.stderr)
        return 130
    # The result is what the command is run for: printed even when --verbose 0
    # silences the progress.
    print(
        f"test loss {results['test_loss']:.4f} - test accuracy "
        f"{results['test_accuracy']:.4f} - training {results['train_seconds']:.1f} s "
        f"({results['seconds_per_epoch']:.2f} s/epoch) - total {results['total_seconds']:.1f} s"
    )
    return 0


# ---- flag checks: everything that can fail is checked before any data is loaded.
# As argparse types, so a bad value is reported like any other bad flag:
# "denseops train: error: argument --epochs: must be an integer >= 1, got '0'" (exit 2).


def _integer(low, high=None):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < low or (high is not None and value > high):
            bounds = f">= {low}" if high is None else f"between {low} and {high}"
            raise argparse.ArgumentTypeError(f"must be an integer {bounds}, got {text!r}")
        return value

    return parse


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text!r}")
    return value


def _writable_file(what, example, suffixes=None):
    """An argparse type: a path a file can be written to (checked without writing it).

    The file itself (through a symlink) must be absent or a regular file,
    its folder must exist, and a file must be creatable there (tried, since
    permission bits do not tell the whole story, e.g. for root or read-only
    mounts). ``suffixes``, when given, are the accepted extensions.
    """

    def parse(text):
        path = os.path.realpath(text) if os.path.islink(text) else text
        folder = os.path.dirname(os.path.abspath(path))
        if os.path.isdir(path):
            raise argparse.ArgumentTypeError(
                f"{text} is a directory; give a file name "
                f"for the {what}, e.g. {os.path.join(text, example)}"
            )
        if os.path.exists(path) and not os.path.isfile(path):
            raise argparse.ArgumentTypeError(f"{text} exists and is not a regular file")
        if not os.path.isdir(folder):
            raise argparse.ArgumentTypeError(f"{text}: folder {folder} does not exist")
        if suffixes is not None:
            suffix = os.path.splitext(path)[1].lower().lstrip(".")
            allowed = suffixes()
            if suffix and suffix not in allowed:
                raise argparse.ArgumentTypeError(
                    f"{text}: cannot write a .{suffix} {what}; use one of "
                    f"{', '.join('.' + s for s in sorted(allowed))}"
                )
        try:
            fd, probe = tempfile.mkstemp(prefix=".denseops-probe-", dir=folder)
        except OSError as error:
            raise argparse.ArgumentTypeError(
                f"{text}: cannot write into folder {folder} ({error.strerror})"
            ) from None
        os.close(fd)
        os.unlink(probe)
        return text

    return parse


def _plot_formats():
    """The file types matplotlib can write (it is needed for --plot anyway)."""
    try:
        from denseops.plotting import require_matplotlib

        require_matplotlib()
    except ImportError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    from matplotlib.backend_bases import FigureCanvasBase

    return set(FigureCanvasBase.get_supported_filetypes())


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
        "train",
        help="train the MNIST MLP (Dense 512 relu, Dense 10 softmax)",
        description="Train the MNIST MLP (Dense 512 relu -> Dense 10 softmax, sparse\n"
        "categorical cross-entropy) and print its test loss and accuracy.",
        epilog=TRAIN_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--dataset",
        choices=sorted(DATASETS),
        default="mnist",
        help="data set to train and test on (default: %(default)s)",
    )
    p.add_argument(
        "--epochs",
        type=_integer(1),
        default=5,
        help="passes over the training set (default: %(default)s)",
    )
    p.add_argument(
        "--batch-size",
        type=_integer(1),
        default=128,
        help="samples per gradient step (default: %(default)s)",
    )
    p.add_argument(
        "--optimizer",
        choices=OPTIMIZERS,
        default="rmsprop",
        help="optimizer, with Keras's default hyperparameters (default: %(default)s)",
    )
    p.add_argument(
        "--learning-rate",
        type=_positive_float,
        default=None,
        metavar="LR",
        help="step size (default: the optimizer's Keras default: rmsprop 0.001, "
        "sgd 0.01, adam 0.001)",
    )
    p.add_argument(
        "--seed",
        type=_integer(0),
        default=0,
        help="seeds the weight initialisation and the shuffling; the same seed and "
        "thread count give identical weights (default: %(default)s)",
    )
    p.add_argument(
        "--threads",
        type=_integer(1, 1024),
        default=None,
        metavar="N",
        help="OpenMP threads for the kernels (default: OMP_NUM_THREADS, else all "
        f"usable cores: {denseops.get_num_threads()} here)",
    )
    p.add_argument(
        "--data-dir",
        default=None,
        metavar="DIR",
        help="folder holding the four IDX files (raw or .gz) or <dataset>.npz, or a data "
        "root holding <dataset>/ with them (default: $DENSEOPS_DATA if set, else "
        "~/.cache/denseops/<dataset>/, downloading into it if empty)",
    )
    p.add_argument(
        "--save",
        metavar="PATH",
        default=None,
        type=_writable_file("model", "model.npz"),
        help="save the trained model as .npz (default: not saved)",
    )
    p.add_argument(
        "--plot",
        metavar="PATH",
        default=None,
        type=_writable_file("plot", "history.png", suffixes=_plot_formats),
        help="write a plot of loss and accuracy per epoch, as the suffix says "
        "(.png, .svg, .pdf, ...); needs matplotlib (default: no plot)",
    )
    p.add_argument(
        "--verbose",
        type=int,
        choices=(0, 1, 2),
        default=1,
        help="0 quiet, 1 progress bar, 2 one line per epoch (default: %(default)s)",
    )
    p.set_defaults(func=train)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="denseops", description=__doc__)
    sub = parser.add_subparsers(dest="command", metavar="{train,bench,demo}")
    _add_train_parser(sub)
    from denseops import bench, bench_cases

    bench.add_parser(sub)
    p_demo = sub.add_parser(
        "demo",
        help="show the config and the textbook relu+add timing",
        description="Show the build's configuration, then time the textbook's "
        "relu(add(x, y)) loop in Python loops, Cython, NumPy and denseops.",
    )
    p_demo.add_argument(
        "--iterations",
        type=_integer(1),
        default=bench_cases.TEXTBOOK_ITERATIONS,
        help="loop count of relu(add(x, y)) (default: %(default)s)",
    )
    p_demo.set_defaults(func=demo)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    return args.func(args)
