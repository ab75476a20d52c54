"""How long `import denseops` takes in a fresh interpreter, and how much of it is NumPy.

    python benchmarks/import_time.py [--rounds 21]

Each round starts a new Python with `-X importtime` for each module and reads
the cumulative microseconds CPython reports for the module itself (so the
interpreter's own start-up is left out). NumPy is imported first by denseops
and cannot be avoided; "denseops' own" is the rest. Rounds alternate the
modules, so load on the machine falls on all of them alike; the median is shown.
"""

import argparse
import os
import re
import statistics
import subprocess
import sys

from denseops import bench_machine

# What a user imports, and the one import every one of them pays for.
MODULES = ["numpy", "denseops", "denseops.nn", "denseops.sklearn"]
LINE = re.compile(r"^import time:\s+\d+ \|\s+(\d+) \|\s+(\S+)$")


def cumulative_us(module):
    """Microseconds CPython reports for importing `module` and all it imports."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        capture_output=True,
        text=True,
        check=True,
        cwd=os.path.expanduser("~"),  # never the source tree's python/ folder
    )
    times = {}
    for line in done.stderr.splitlines():
        match = LINE.match(line)
        if match:
            times[match.group(2)] = int(match.group(1))
    return times[module], times.get("numpy", 0)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=21, help="fresh interpreters per module")
    args = parser.parse_args(argv)
    total = {module: [] for module in MODULES}
    numpy_part = {module: [] for module in MODULES}
    for _ in range(args.rounds):
        for module in MODULES:
            us, numpy_us = cumulative_us(module)
            total[module].append(us)
            numpy_part[module].append(numpy_us)
    print(
        bench_machine.heading(
            f"median of {args.rounds} fresh interpreters per module, -X importtime"
        )
    )
    print(f"{'module':<18} {'import ms':>9} {'numpy ms':>9} {'own ms':>7}")
    for module in MODULES:
        ms = statistics.median(total[module]) / 1000
        numpy_ms = statistics.median(numpy_part[module]) / 1000
        own = ms - numpy_ms if module != "numpy" else 0.0
        print(f"{module:<18} {ms:9.1f} {numpy_ms:9.1f} {own:7.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
