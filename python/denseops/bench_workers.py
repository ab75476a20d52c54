"""One process per library: benchmark workers, asked one JSON request per line.

Threaded runtimes keep their workers spinning after a call and would steal
the cores of the next library timed in the same process, and torch's MKL and
OpenMP slow NumPy's small calls beside them. So each library runs in a
worker of its own (the benchmark script re-run with `--worker ...`), built
and warmed up once; the parent asks the workers for one sample at a time,
library after library, the order rotating every round (`time_in_rounds`).

Worker side, `serve(build, pause_s)`: builds its named calls, then answers
"calibrate" and "sample" requests for them, plus any request its handlers name.
Parent side, `Worker(argv, env)`: `ask(op, **arguments)`, `calibrate`, `sample`.
A worker that runs once and prints one JSON line is `run_once(argv, env)`.
"""

import json
import os
import subprocess
import sys
import tempfile
import time

from denseops import bench_timing


def serve(build, pause_s=0.0):
    """The worker's loop: one JSON reply line per JSON request line, until stdin closes.

    `build()` returns (calls, handlers): `calls` maps names to zero-argument
    callables, `handlers` other requests' names to functions. It runs once
    stdout is reserved for the replies, so what a library prints while it is
    set up goes to stderr like the rest. Requests:
    {"op": "calibrate", "name": N, "target_ns": T} -> calls per sample of >= T ns;
    {"op": "sample", "name": N, "number": K} -> {"seconds", "cpu_seconds"} per call,
    elapsed and of this process's CPU time, after `bench_timing.settle(call, pause_s)`;
    {"op": OTHER, ...} -> handlers[OTHER](...).
    """
    # Replies go to the real stdout; anything a library prints goes to stderr.
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    calls, handlers = build()
    for line in iter(sys.stdin.readline, ""):
        request = json.loads(line)
        op = request.pop("op")
        if op == "calibrate":
            result = bench_timing.calls_per_sample(calls[request["name"]], request["target_ns"])
        elif op == "sample":
            call, number = calls[request["name"]], request["number"]
            bench_timing.settle(call, pause_s)
            cpu_start = time.process_time_ns()
            wall_ns = bench_timing.sample_ns(call, number)
            cpu_ns = time.process_time_ns() - cpu_start
            result = {"seconds": wall_ns / number / 1e9, "cpu_seconds": cpu_ns / number / 1e9}
        else:
            result = handlers[op](**request)
        replies.write(json.dumps({"result": result}) + "\n")
        replies.flush()
    return 0


class Worker:
    """A worker process, started with `argv`; its stderr is kept to explain a failure."""

    def __init__(self, argv, env=None):
        self.argv = argv
        self.stderr = tempfile.TemporaryFile(mode="w+")
        self.process = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            text=True,
            env=env,
        )
        self.numbers = {}

    def ask(self, op, **arguments):
        """Send one request, return the worker's result."""
        try:
            self.process.stdin.write(json.dumps({"op": op, **arguments}) + "\n")
            self.process.stdin.flush()
        except BrokenPipeError:
            pass  # reported below, with the worker's stderr
        reply = self.process.stdout.readline()
        if not reply:
            code = self.process.wait()
            self.stderr.seek(0)
            raise RuntimeError(
                f"benchmark worker {' '.join(self.argv[1:])} exited ({code}) on {op!r}:\n"
                f"{self.stderr.read()}"
            )
        return json.loads(reply)["result"]

    def calibrate(self, name, target_ns):
        """Warm up call `name` and fix its calls per sample (see bench_timing.calls_per_sample)."""
        self.numbers[name] = self.ask("calibrate", name=name, target_ns=target_ns)
        return self.numbers[name]

    def sample(self, name):
        """(elapsed, CPU) seconds per call of one sample of call `name`, calibrated before."""
        reply = self.ask("sample", name=name, number=self.numbers[name])
        return reply["seconds"], reply["cpu_seconds"]

    def close(self):
        if self.process.stdin:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout:  # an unclosed pipe is a ResourceWarning when collected
            self.process.stdout.close()
        self.stderr.close()


def time_in_rounds(workers, names, rounds):
    """Elapsed and CPU samples, each as samples[library][round][case] seconds per call.

    `workers` maps each library to its Worker (or anything with `sample(name)`).
    In every round each case `names[i]` is timed by every library in turn, the
    order rotating from round to round (two libraries alternate), so the
    libraries' samples of a case in one round see the same machine.
    """
    elapsed = {library: [[None] * len(names) for _ in range(rounds)] for library in workers}
    cpu = {library: [[None] * len(names) for _ in range(rounds)] for library in workers}
    for r in range(rounds):
        for i, name in enumerate(names):
            for library in bench_timing.rotated(workers, r):
                elapsed[library][r][i], cpu[library][r][i] = workers[library].sample(name)
    return elapsed, cpu


def run_once(argv, env=None):
    """Run a worker that prints one JSON line last; return it, or raise with its stderr."""
    done = subprocess.run(argv, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(
            f"benchmark worker {' '.join(argv[1:])} failed ({done.returncode}):\n{done.stderr}"
        )
    return json.loads(done.stdout.strip().splitlines()[-1])
