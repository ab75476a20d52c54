"""`denseops train` end to end, as a user runs it: `python -m denseops train`.

MNIST's IDX files are checked against the published SHA-256 wherever they
come from, so a made-up IDX file is (rightly) refused. A Keras-style
``mnist.npz`` in ``--data-dir`` is the loader's other accepted layout and is
not checksummed, so the tests write a tiny, learnable one themselves.
"""

import os
import re
import subprocess
import sys

import numpy as np
import pytest
from denseops import cli
from denseops.mnist_mlp import flatten_images
from denseops.nn import load

RESULT_LINE = re.compile(
    r"^test loss (?P<loss>\d+\.\d{4}) - test accuracy (?P<accuracy>[01]\.\d{4}) - "
    r"training \d+\.\d s \(\d+\.\d\d s/epoch\) - total \d+\.\d s$",
    re.MULTILINE,
)


def digits_like(rng, samples):
    """(samples, 28, 28) uint8 images whose class is the row of a bright bar."""
    labels = rng.integers(0, 10, size=samples).astype(np.uint8)
    images = rng.integers(0, 40, size=(samples, 28, 28)).astype(np.uint8)
    for i, label in enumerate(labels):
        images[i, 2 + 2 * label : 4 + 2 * label, 4:24] = 255
    return images, labels


@pytest.fixture
def tiny_mnist(tmp_path, rng):
    """A folder holding a small mnist.npz in Keras's layout."""
    folder = tmp_path / "data"
    folder.mkdir()
    (x_train, y_train), (x_test, y_test) = digits_like(rng, 300), digits_like(rng, 100)
    np.savez(folder / "mnist.npz", x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return folder, (x_test, y_test)


def run_cli(*args, cwd=None, env=None):
    """Runs `python -m denseops ...` in a fresh process; returns the CompletedProcess."""
    command = [sys.executable, "-m", "denseops", *args]
    if args[0] == "train" and "--help" not in args:
        command += ["--threads", "1"]  # tiny data, and the test runner may share the cores
    return subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=cwd, env=env)


def test_train_help_lists_the_keras_flags():
    result = run_cli("train", "--help")
    assert result.returncode == 0, result.stderr
    for flag in (
        "--dataset",
        "--epochs",
        "--batch-size",
        "--optimizer",
        "--learning-rate",
        "--seed",
        "--threads",
        "--data-dir",
        "--save",
        "--plot",
        "--verbose",
    ):
        assert flag in result.stdout, f"{flag} missing from:\n{result.stdout}"
    assert "fashion-mnist" in result.stdout and "rmsprop" in result.stdout


def help_entries(help_text):
    """{"--flag": "its help, whitespace joined"} from an argparse --help text."""
    # Python < 3.10 heads the section "optional arguments:".
    options = re.split(r"\n(?:options|optional arguments):\n", help_text, maxsplit=1)[1]
    options = options.split("\n\n", 1)[0]
    entries = re.split(r"\n(?=  -)", options.strip("\n"))
    return {entry.split()[0].rstrip(","): " ".join(entry.split()) for entry in entries}


@pytest.mark.parametrize(
    "command, defaults, examples",
    [
        (
            "train",
            {
                "--dataset": "mnist",
                "--epochs": "5",
                "--batch-size": "128",
                "--optimizer": "rmsprop",
                "--seed": "0",
                "--verbose": "1",
            },
            ["--save", "--dataset fashion-mnist", "--plot", "--data-dir"],
        ),
        (
            "bench",
            {"--dtype": "float32", "--iterations": "1000", "--quick": "off", "--torch": "off"},
            ["--quick", "--json", "--plot", "--ops matmul", "--torch"],
        ),
    ],
)
def test_help_gives_every_flag_a_default_and_ends_with_examples(command, defaults, examples):
    result = run_cli(command, "--help")
    assert result.returncode == 0, result.stderr
    entries = help_entries(result.stdout)
    assert len(entries) >= len(defaults) + 1, result.stdout
    for flag, text in entries.items():
        if flag != "-h":
            assert "(default: " in text, f"{flag} shows no default:\n{text}"
    for flag, value in defaults.items():
        assert f"(default: {value})" in entries[flag], entries[flag]
    epilog = result.stdout.split("\nexamples:\n", 1)
    assert len(epilog) == 2, f"no examples epilog:\n{result.stdout}"
    example_lines = [
        line.strip()
        for line in epilog[1].splitlines()
        if line.strip().startswith(f"denseops {command}")
    ]
    for fragment in examples:
        assert any(fragment in line for line in example_lines), (fragment, example_lines)


def test_demo_times_every_rung_of_the_textbook_ladder():
    result = run_cli("demo", "--iterations", "3")
    assert result.returncode == 0, result.stderr
    assert "avx" in result.stdout or "generic" in result.stdout, "the config comes first"
    table = result.stdout.split("3 x relu(add(x, y)) on (20, 100) float64, median of 3:\n")[1]
    header, _, *rows = table.strip().splitlines()
    assert header.split()[:5] == ["operation", "size", "dtype", "implementation", "median"]
    assert rows[0].startswith("textbook   3x(20, 100)        float64"), rows[0]
    assert len(rows) == 4, rows
    for name, row in zip(("python loops", "cython", "numpy", "denseops"), rows):
        assert f" {name} " in row, row
        median = re.search(r" (\d+\.\d+) (s|ms|us|ns) ", row)
        assert median and float(median[1]) > 0, row
    # each rung against the loops, then against NumPy: the references are 1x themselves
    assert rows[0].split()[-2] == "1x", rows[0]
    assert rows[2].split()[-1] == "1x", rows[2]


def test_demo_rejects_a_loop_count_below_one():
    result = run_cli("demo", "--iterations", "0")
    assert result.returncode == 2
    assert "--iterations: must be an integer >= 1, got '0'" in result.stderr


def test_train_on_a_tiny_dataset_prints_the_result_and_saves_the_model(tiny_mnist, tmp_path):
    folder, (x_test, y_test) = tiny_mnist
    saved = tmp_path / "model.npz"
    result = run_cli(
        "train",
        "--data-dir",
        str(folder),
        "--epochs",
        "1",
        "--verbose",
        "0",
        "--batch-size",
        "32",
        "--save",
        str(saved),
    )
    assert result.returncode == 0, result.stderr
    assert RESULT_LINE.fullmatch(result.stdout.strip()), (
        f"--verbose 0 should print the result line only:\n{result.stdout}"
    )
    match = RESULT_LINE.search(result.stdout)
    # The printed figures are those of the saved model on the test set.
    model = load(saved)
    loss, accuracy = model.evaluate(flatten_images(x_test), y_test)
    assert float(match["accuracy"]) == pytest.approx(accuracy, abs=5e-5)
    assert float(match["loss"]) == pytest.approx(loss, abs=5e-5)
    assert accuracy > 0.5, "one epoch on bars this easy should beat chance by far"
    assert model.optimizer.get_config()["name"] == "rmsprop"


def test_train_verbose_2_prints_one_line_per_epoch(tiny_mnist):
    folder, _ = tiny_mnist
    result = run_cli(
        "train",
        "--data-dir",
        str(folder),
        "--epochs",
        "2",
        "--verbose",
        "2",
        "--optimizer",
        "sgd",
        "--learning-rate",
        "0.05",
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 4, result.stdout
    assert lines[0].startswith("mnist: 300 training and 100 test images")
    assert "1 thread(s)" in lines[0] and "SGD(learning_rate=0.05" in lines[0]
    assert [line.split(" - ")[0] for line in lines[1:3]] == ["Epoch 1/2", "Epoch 2/2"]
    assert RESULT_LINE.fullmatch(lines[3]), lines[3]


def test_train_writes_a_plot(tiny_mnist, tmp_path):
    pytest.importorskip("matplotlib", reason="--plot needs the optional matplotlib")
    folder, _ = tiny_mnist
    plot = tmp_path / "history.png"
    result = run_cli(
        "train", "--data-dir", str(folder), "--epochs", "1", "--verbose", "1", "--plot", str(plot)
    )
    assert result.returncode == 0, result.stderr
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"wrote the plot to {plot}" in result.stdout
    assert "Epoch 1/1" in result.stdout  # the progress bar


def test_train_without_data_says_where_to_put_it(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run_cli("train", "--data-dir", str(empty), "--epochs", "1")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith(
        f"denseops train: path={str(empty)!r} holds neither the mnist files"
    ), result.stderr
    assert "or a data root holding mnist/" in result.stderr, result.stderr
    assert "train-images-idx3-ubyte" in result.stderr


def test_train_finds_data_under_a_relative_root_or_says_where_it_looked(tiny_mnist, tmp_path):
    folder, _ = tiny_mnist  # <tmp_path>/data/mnist.npz
    root = tmp_path / "root"
    (root / "mnist").mkdir(parents=True)
    (folder / "mnist.npz").rename(root / "mnist" / "mnist.npz")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "DENSEOPS_DATA": "root"}
    args = ("train", "--epochs", "1", "--verbose", "0")
    # The data root form, relative to the working directory, in --data-dir and DENSEOPS_DATA.
    assert run_cli(*args, "--data-dir", "root", cwd=tmp_path).returncode == 0
    assert run_cli(*args, cwd=tmp_path, env=env).returncode == 0
    result = run_cli(*args, cwd=elsewhere, env=env)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith(
        f"denseops train: DENSEOPS_DATA='root' ({elsewhere / 'root'}) does not exist."
    ), result.stderr
    assert "--data-dir <folder>" in result.stderr and "load_data(path=" in result.stderr


def test_train_with_a_corrupt_data_file_names_it_without_a_traceback(tmp_path):
    folder = tmp_path / "corrupt"
    folder.mkdir()
    (folder / "mnist.npz").write_bytes(b"<html>not a zip</html>")
    result = run_cli("train", "--data-dir", str(folder), "--epochs", "1")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert "mnist.npz" in result.stderr and "not a readable .npz" in result.stderr, result.stderr


def test_train_rejects_bad_flags_like_argparse_does():
    result = run_cli("train", "--optimizer", "adamw")
    assert result.returncode == 2
    assert "invalid choice: 'adamw'" in result.stderr
    result = run_cli("train", "--verbose", "3")
    assert result.returncode == 2 and "invalid choice: 3" in result.stderr


def test_main_without_a_command_prints_help(capsys):
    assert cli.main([]) == 0
    assert "train" in capsys.readouterr().out


# ---- everything checkable is checked before the data is even loaded


@pytest.fixture
def no_data(tmp_path):
    """An empty --data-dir: a check that ran only after loading would report the data instead."""
    folder = tmp_path / "no-data"
    folder.mkdir()
    return folder


def flag_cases(tmp_path):
    (tmp_path / "a-folder").mkdir()
    return {
        "epochs-0": (["--epochs", "0"], "argument --epochs: must be an integer >= 1, got '0'"),
        "batch-size-0": (
            ["--batch-size", "0"],
            "argument --batch-size: must be an integer >= 1, got '0'",
        ),
        "seed-negative": (["--seed", "-1"], "argument --seed: must be an integer >= 0, got '-1'"),
        "threads-0": (
            ["--threads", "0"],
            "argument --threads: must be an integer between 1 and 1024, got '0'",
        ),
        "learning-rate-negative": (
            ["--learning-rate", "-0.1"],
            "argument --learning-rate: must be a finite number > 0",
        ),
        "save-into-missing-folder": (
            ["--save", str(tmp_path / "nowhere" / "model.npz")],
            f"argument --save: {tmp_path / 'nowhere' / 'model.npz'}: folder "
            f"{tmp_path / 'nowhere'} does not exist",
        ),
        "save-onto-a-directory": (
            ["--save", str(tmp_path / "a-folder")],
            f"argument --save: {tmp_path / 'a-folder'} is a directory",
        ),
        "plot-unsupported-extension": (
            ["--plot", str(tmp_path / "history.docx")],
            "argument --plot: "
            + str(tmp_path / "history.docx")
            + ": cannot write a .docx plot; use one of",
        ),
        # /proc/self takes no new files, even for root (permission bits would not stop root).
        "plot-unwritable-folder": (
            ["--plot", "/proc/self/history.png"],
            "argument --plot: /proc/self/history.png: cannot write into folder /proc/self",
        ),
    }


@pytest.mark.parametrize(
    "case",
    [
        "epochs-0",
        "batch-size-0",
        "seed-negative",
        "threads-0",
        "learning-rate-negative",
        "save-into-missing-folder",
        "save-onto-a-directory",
        "plot-unsupported-extension",
        "plot-unwritable-folder",
    ],
)
def test_train_checks_every_flag_before_loading_data(tmp_path, no_data, case):
    if case.startswith("plot"):
        pytest.importorskip("matplotlib", reason="--plot needs the optional matplotlib")
    flags, message = flag_cases(tmp_path)[case]
    before = sorted(p.name for p in tmp_path.iterdir())
    command = [sys.executable, "-m", "denseops", "train", "--data-dir", str(no_data), *flags]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert result.stderr.splitlines()[-1].startswith(f"denseops train: error: {message}"), (
        result.stderr
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written, no probe left


def test_a_diverging_run_ends_with_one_line_and_status_1(tiny_mnist):
    folder, _ = tiny_mnist
    result = run_cli(
        "train",
        "--data-dir",
        str(folder),
        "--epochs",
        "1",
        "--verbose",
        "0",
        "--optimizer",
        "sgd",
        "--learning-rate",
        "1e30",
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith("denseops train: training stopped in epoch 1"), result.stderr


INTERRUPTED_WHILE_LOADING = """
import sys, time
from denseops import cli
from denseops.datasets import mnist

def slow_load_data(path=None):
    print("loading", flush=True)
    time.sleep(120)

mnist.load_data = slow_load_data
sys.exit(cli.main(["train", "--threads", "1"]))
"""


def test_ctrl_c_while_loading_data_says_interrupted(tmp_path):
    import signal

    script = tmp_path / "interrupted.py"
    script.write_text(INTERRUPTED_WHILE_LOADING)
    child = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout.readline() == "loading\n"
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    assert child.returncode == 130, out + err
    assert err.strip() == "denseops train: interrupted", err
