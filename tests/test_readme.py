"""The README's Python examples run as written, against the installed package."""

import os
import pathlib
import re
import subprocess
import sys

import pytest

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def needs_data(code):
    return "load_data()" in code


def have_mnist():
    from denseops.datasets import DataNotFoundError, mnist
    try:
        mnist.load_data()
    except DataNotFoundError:
        return False
    return True


def test_readme_has_examples():
    assert len(BLOCKS) >= 3, f"expected the kernel, Keras and textbook examples, found {len(BLOCKS)}"


@pytest.mark.slow
@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_example_runs(code, tmp_path):
    if needs_data(code) and not have_mnist():
        pytest.skip("no MNIST found: set DENSEOPS_DATA=<root> holding mnist/")
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                            text=True, timeout=600, env={**os.environ})
    assert result.returncode == 0, f"example failed:\n{code}\n--- stderr:\n{result.stderr}"
