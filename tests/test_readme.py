"""The README's Python examples (and the documentation site's) run as written,
against the installed package, and print what the page says they print.

An example's output is the ```text block right after its ```python block. The
lines shown must be the last lines the example prints (a progress bar may come
before them); words must match exactly, integers too, and decimals within 2 %,
since the last digits of a training run depend on the thread count.
"""

import os
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
# The README's examples and those of the documentation site (docs/).
DOCUMENTS = [README, *sorted((ROOT / "docs").rglob("*.md"))]
EXAMPLES = [
    example
    for document in DOCUMENTS
    for example in re.findall(
        r"```python\n(.*?)```\n\s*(?:```text\n(.*?)```)?", document.read_text(), flags=re.S
    )
]
NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e-?\d+)?")
# Beyond matching the README within 2 %, the example holding the marker must
# print a test accuracy of at least the floor: Keras's own MNIST MLP example
# (this model, RMSprop, batches of 128, 5 epochs) reaches 0.9796.
ACCURACY_FLOORS = {'optimizer="rmsprop", loss="sparse_categorical_crossentropy"': 0.978}


def needs_data(code):
    return "load_data()" in code


def have_mnist():
    """Whether the real MNIST is there; never a download (DENSEOPS_DATA unset: no)."""
    from denseops.datasets import mnist

    if not os.environ.get("DENSEOPS_DATA"):
        return False
    mnist.load_data()  # a wrong DENSEOPS_DATA is an error, and fails the test
    return True


def run_example(code, cwd):
    """Run `code` in a fresh interpreter in `cwd`; returns the CompletedProcess.

    The examples run in a folder of their own (they write files), so a
    relative DENSEOPS_DATA is passed on made absolute, as this process reads it.
    """
    env = dict(os.environ)
    if env.get("DENSEOPS_DATA"):
        env["DENSEOPS_DATA"] = str(pathlib.Path(env["DENSEOPS_DATA"]).expanduser().resolve())
    return subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=600, env=env
    )


def check_output(shown, printed):
    """Assert the README's `shown` lines are the last lines `printed` (see the module doc)."""
    want = [line.rstrip() for line in shown.strip().splitlines()]
    got = [line.rstrip() for line in printed.splitlines() if line.strip()][-len(want) :]
    assert len(got) == len(want), f"expected the README's lines\n{shown}\ngot\n{printed}"
    for w, g in zip(want, got):
        assert NUMBER.split(w) == NUMBER.split(g), f"README shows {w!r}, the example printed {g!r}"
        for a, b in zip(NUMBER.findall(w), NUMBER.findall(g)):
            if "." in a or "e" in a:
                assert float(b) == pytest.approx(float(a), rel=0.02), (w, g)
            else:
                assert a == b, (w, g)


def test_readme_has_examples_that_show_their_output():
    assert len(EXAMPLES) >= 3, (
        f"expected the kernel, Keras and textbook examples, found {len(EXAMPLES)}"
    )
    for code, shown in EXAMPLES:
        assert "print(" in code and shown.strip(), f"this example shows no output:\n{code}"
    for marker in ACCURACY_FLOORS:
        holders = [code for code, _ in EXAMPLES if marker in code and needs_data(code)]
        assert len(holders) == 1, f"{len(holders)} MNIST examples hold {marker!r}, expected 1"


def test_check_output_compares_words_exactly_and_figures_within_two_percent():
    check_output("test accuracy: 0.9803\n", "Epoch 1/1 ...\ntest accuracy: 0.9750\n")
    check_output("(128, 512) float\n", "(128, 512) float\n")
    for shown, printed in [
        ("test accuracy: 0.9803", "test accuracy: 0.9500"),
        ("test accuracy: 0.9803", "test loss: 0.9803"),
        ("test accuracy: 0.9803", ""),
        ("(128, 512) float", "(128, 513) float"),
    ]:
        with pytest.raises(AssertionError):
            check_output(shown, printed)


def test_examples_read_a_relative_data_root_from_their_own_folder(tmp_path, monkeypatch):
    # DENSEOPS_DATA=../shared/datasets, as the README writes it, must survive
    # the examples running in another folder.
    rng = np.random.default_rng(0)
    (tmp_path / "here" / "data" / "mnist").mkdir(parents=True)
    np.savez(
        tmp_path / "here" / "data" / "mnist" / "mnist.npz",
        x_train=rng.integers(0, 256, (5, 28, 28), dtype=np.uint8),
        y_train=np.arange(5, dtype=np.uint8),
        x_test=rng.integers(0, 256, (3, 28, 28), dtype=np.uint8),
        y_test=np.arange(3, dtype=np.uint8),
    )
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "here")
    monkeypatch.setenv("DENSEOPS_DATA", "data")
    result = run_example(
        "from denseops.datasets import mnist\n"
        "(x, y), (x_test, y_test) = mnist.load_data()\n"
        "print(x.shape, y_test.tolist())\n",
        tmp_path / "elsewhere",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "(5, 28, 28) [0, 1, 2]\n"


@pytest.mark.slow
@pytest.mark.parametrize("code, shown", EXAMPLES, ids=[f"block{i}" for i in range(len(EXAMPLES))])
def test_readme_example_prints_what_the_readme_shows(code, shown, tmp_path):
    if needs_data(code) and not have_mnist():
        pytest.skip(
            "needs the real MNIST: set DENSEOPS_DATA=<root> holding mnist/ "
            "(../shared/datasets on the project's machines); tests never download"
        )
    result = run_example(code, tmp_path)
    assert result.returncode == 0, f"example failed:\n{code}\n--- stderr:\n{result.stderr}"
    check_output(shown, result.stdout)
    for marker, floor in ACCURACY_FLOORS.items():
        if marker in code:
            accuracy = float(re.findall(r"test accuracy:? ([\d.]+)", result.stdout)[-1])
            assert accuracy >= floor, f"test accuracy {accuracy} < {floor}:\n{result.stdout}"
