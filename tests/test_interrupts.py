"""Ctrl-C reaches the caller of a long kernel call before the call would end."""

import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

CHILD = textwrap.dedent("""
    import sys
    import numpy as np
    import denseops

    m, k, n = map(int, sys.argv[1:])
    a = np.ones((m, k))
    # A read-only broadcast B: any K x N without the memory of one.
    b = np.broadcast_to(np.float64(1), (k, n))
    out = np.full((m, n), np.nan)
    print("started", flush=True)
    try:
        denseops.matmul(a, b, out=out)
    except KeyboardInterrupt:
        # Elements never computed are still NaN: the call stopped early.
        print("interrupted", int(np.isnan(out).sum()), out.size, flush=True)
    else:
        print("finished", flush=True)
""")


@pytest.mark.parametrize(
    "shape",
    [
        (4000, 4000, 4000),  # 1.3e11 flops in float64: ~13 bands of rows
        # Few rows, huge K and N: 2.9e12 flops, minutes, in one band of rows
        # that has to be cut into columns for Ctrl-C to get through.
        (64, 150000, 150000),
    ],
    ids=["square", "few-rows"],
)
def test_matmul_stops_between_tiles_on_ctrl_c(tmp_path, shape):
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    child = subprocess.Popen(
        [sys.executable, str(script), *map(str, shape)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout.readline() == "started\n", child.stderr.read()
        time.sleep(0.5)  # let the product begin: a signal before it would stop nothing
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    words = out.split()
    assert words and words[0] == "interrupted", f"stdout: {out!r}; stderr: {err!r}"
    left, size = int(words[1]), int(words[2])
    assert 0 < left < size, f"{left} of {size} elements left uncomputed"


def test_matmul_in_bands_equals_one_product():
    # Shapes whose bands split M unevenly still give NumPy's product.
    rng = np.random.default_rng(0)
    import denseops

    a = rng.random((1500, 2600))
    b = rng.random((2600, 2700))
    expected = a @ b
    np.testing.assert_allclose(denseops.matmul(a, b), expected, rtol=1e-12)


def test_matmul_in_column_tiles_equals_one_product():
    # 64 x 20000 x 9000 is one band of rows cut into three column tiles.
    rng = np.random.default_rng(1)
    import denseops

    a = rng.random((64, 20000))
    v = rng.random(9000)
    b = np.broadcast_to(v, (20000, 9000))  # B[k, j] = v[j]
    expected = a.sum(axis=1)[:, None] * v[None, :]
    np.testing.assert_allclose(denseops.matmul(a, b), expected, rtol=1e-10)
