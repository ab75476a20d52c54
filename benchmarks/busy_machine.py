"""Seconds per MNIST epoch on a quiet machine and next to one busy process.

Idle OpenMP threads that spin keep their core busy between parallel regions;
with another process wanting that core, the spinning steals the time the
work needs. This script trains the MNIST MLP (the model of
benchmarks/train_epoch.py) for a few epochs in a fresh process per
configuration, once with the machine as it is ("quiet") and once with one
extra process spinning in a Python loop ("busy"), rounds alternating, and
reports the median epoch time of each and their ratio.

Each configuration is a set of environment variables for the worker; the
variables that decide how OpenMP threads wait (OMP_WAIT_POLICY,
GOMP_SPINCOUNT, KMP_BLOCKTIME) are removed first, so "denseops default" is
what a user gets who sets none of them:

    DENSEOPS_DATA=../shared/datasets python benchmarks/busy_machine.py
    ... --epochs 2 --rounds 3 --config "spin 10k:GOMP_SPINCOUNT=10000" --json out.json

Targets (issue 12): busy <= 2x quiet at the default settings; quiet within
5 % of libgomp's own default (GOMP_SPINCOUNT=300000 is what libgomp uses
when no variable is set, i.e. denseops before it chose a default).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from denseops import bench_machine, bench_workers

WAIT_VARIABLES = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME")
DEFAULT_CONFIGS = (
    "denseops default:",
    "libgomp default (before):GOMP_SPINCOUNT=300000",
    "passive:OMP_WAIT_POLICY=passive",
)


def parse_config(text):
    """'name:VAR=value,VAR=value' -> (name, {VAR: value})."""
    name, _, assignments = text.partition(":")
    env = {}
    for assignment in filter(None, assignments.split(",")):
        var, _, value = assignment.partition("=")
        env[var.strip()] = value.strip()
    return name.strip(), env


def add_config_argument(parser):
    """The repeatable --config option of the scripts that compare wait settings."""
    parser.add_argument(
        "--config",
        action="append",
        metavar="NAME:VAR=VALUE,...",
        help="a configuration to time (repeatable); default: denseops default, "
        "libgomp default (before), passive",
    )


def worker_env(env_changes):
    """This process's environment without the OpenMP wait variables, plus `env_changes`."""
    env = {k: v for k, v in os.environ.items() if k not in WAIT_VARIABLES}
    env.update(env_changes)
    return env


# ---------------------------------------------------------------- worker


def worker(args):
    """Times args.epochs epochs and prints one JSON line."""
    import denseops
    from denseops.mnist_mlp import compiled_mlp
    from train_epoch import load_mnist, timed_epochs  # beside this script

    x, y, _, _ = load_mnist()
    if args.threads:
        denseops.set_num_threads(args.threads)
    model = compiled_mlp(seed=0)
    seconds, _ = timed_epochs(
        model.train_step,
        lambda epoch: model.fit(x, y, epochs=1, batch_size=args.batch_size, verbose=0, seed=epoch),
        x,
        y,
        args.batch_size,
        args.epochs,
    )
    print(
        json.dumps(
            {
                "epoch_seconds": seconds,
                "threads": denseops.get_num_threads(),
                "GOMP_SPINCOUNT": os.environ.get("GOMP_SPINCOUNT"),
            }
        )
    )
    return 0


# ---------------------------------------------------------------- parent


def run_worker(env_changes, args):
    command = [
        sys.executable,
        os.path.abspath(__file__),
        "--worker",
        "--epochs",
        str(args.epochs),
        "--batch-size",
        str(args.batch_size),
    ]
    if args.threads:
        command += ["--threads", str(args.threads)]
    return bench_workers.run_once(command, worker_env(env_changes))


def busy_process():
    """One process spinning on a core, as another user's job would."""
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


def parent(args):
    configs = [parse_config(c) for c in (args.config or DEFAULT_CONFIGS)]
    print(
        bench_machine.heading(
            f"MNIST MLP 784-512-10, RMSprop, batch {args.batch_size}, float32; "
            f"{args.epochs} epoch(s) x {args.rounds} round(s) per configuration and load, "
            f"each run in its own process"
        )
    )
    times = {(name, load): [] for name, _ in configs for load in ("quiet", "busy")}
    for r in range(args.rounds):
        for name, env in configs:
            for load in ("quiet", "busy"):
                print(f"  round {r + 1}/{args.rounds}: {name}, {load} ...", flush=True)
                spinner = busy_process() if load == "busy" else None
                try:
                    times[name, load] += run_worker(env, args)["epoch_seconds"]
                finally:
                    if spinner is not None:
                        spinner.kill()
                        spinner.wait()
    median = {key: statistics.median(value) for key, value in times.items()}
    reference = median.get(("libgomp default (before)", "quiet"))
    print(
        f"\n{'configuration':<28} {'quiet s/epoch':>13} {'busy s/epoch':>12} "
        f"{'busy/quiet':>10} {'quiet vs before':>15}"
    )
    for name, _env in configs:
        quiet, busy = median[name, "quiet"], median[name, "busy"]
        versus = f"{quiet / reference:.3f}x" if reference else "-"
        print(f"{name:<28} {quiet:13.3f} {busy:12.3f} {busy / quiet:9.2f}x {versus:>15}")
    print(
        "\nmedians over all timed epochs; targets: busy/quiet <= 2 at the default, "
        "quiet within 5 % of before."
    )
    if args.json:
        saved = {
            "configs": {n: e for n, e in configs},
            "epochs": args.epochs,
            "rounds": args.rounds,
            "epoch_seconds": {f"{n}/{load}": v for (n, load), v in times.items()},
        }
        Path(args.json).write_text(json.dumps(saved, indent=1))
        print(f"Saved {args.json}")
    return 0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=2, help="timed epochs per run (default 2)")
    p.add_argument("--rounds", type=int, default=3, help="runs per configuration and load")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="denseops threads (default: its own default, all cores)",
    )
    add_config_argument(p)
    p.add_argument("--json", default=None, help="save the epoch times to this file")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    return worker(args) if args.worker else parent(args)


if __name__ == "__main__":
    sys.exit(main())
