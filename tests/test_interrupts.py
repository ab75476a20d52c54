"""Ctrl-C reaches the caller of a long kernel call before the call would end."""

import signal
import subprocess
import sys
import textwrap
import time

import numpy as np

CHILD = textwrap.dedent("""
    import sys
    import numpy as np
    import denseops

    n = int(sys.argv[1])
    a = np.ones((n, n))
    out = np.full((n, n), np.nan)
    print("started", flush=True)
    try:
        denseops.matmul(a, a, out=out)
    except KeyboardInterrupt:
        # Rows never computed are still NaN: the call stopped early.
        print("interrupted", int(np.isnan(out[:, 0]).sum()), flush=True)
    else:
        print("finished", flush=True)
""")


def test_matmul_stops_between_bands_on_ctrl_c(tmp_path):
    # 4000^3 in float64 is 1.3e11 flops: ~13 bands, seconds of work on any path.
    n = 4000
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    child = subprocess.Popen([sys.executable, str(script), str(n)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
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
    rows_left = int(words[1])
    assert 0 < rows_left < n, f"{rows_left} of {n} rows left uncomputed"


def test_matmul_in_bands_equals_one_product():
    # Shapes whose bands split M unevenly still give NumPy's product.
    rng = np.random.default_rng(0)
    import denseops
    a = rng.random((1500, 2600))
    b = rng.random((2600, 2700))
    expected = a @ b
    np.testing.assert_allclose(denseops.matmul(a, b), expected, rtol=1e-12)
