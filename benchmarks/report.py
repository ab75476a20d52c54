"""Regenerates every figure in README.md from real runs on this machine.

    DENSEOPS_DATA=../shared/datasets python benchmarks/report.py            # all, ~8 min
    DENSEOPS_DATA=../shared/datasets python benchmarks/report.py --only targets

Each README section between `<!-- figures:NAME:begin -->` and
`<!-- figures:NAME:end -->` is replaced by the command that produced it, the
date, commit and machine, and the command's own output, so no figure is ever
typed by hand. OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are unset for the runs
(they make NumPy's OpenBLAS choose slower kernels on some machines).
"""

import argparse
import datetime
import os
import pathlib
import platform
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
README = ROOT / "README.md"

# name -> (command as shown, argv); every command runs from the repository root.
SUITE = ["benchmarks/test_bench_textbook.py", "benchmarks/test_bench_train_step.py",
         "--benchmark-only", "--benchmark-group-by=group",
         "--benchmark-columns=min,median,iqr,rounds", "-p", "no:cacheprovider"]
SECTIONS = {
    "train": ("denseops train --verbose 2",
              [sys.executable, "-m", "denseops", "train", "--verbose", "2"]),
    "epoch": ("python benchmarks/train_epoch.py --epochs 2 --rounds 2 --threads 2",
              [sys.executable, "benchmarks/train_epoch.py", "--epochs", "2", "--rounds", "2",
               "--threads", "2"]),
    "targets": ("python benchmarks/targets.py --rounds 15",
                [sys.executable, "benchmarks/targets.py", "--rounds", "15"]),
    "ladder": ("denseops bench --plot docs/bench.png",
               [sys.executable, "-m", "denseops", "bench", "--plot", "docs/bench.png"]),
    "suite": ("pytest " + " ".join(SUITE), [sys.executable, "-m", "pytest", *SUITE]),
    "sklearn": ("python benchmarks/sklearn_mlp.py --rounds 3",
                [sys.executable, "benchmarks/sklearn_mlp.py", "--rounds", "3"]),
}
# Where a section's kept output starts (pytest's session header says nothing new).
KEEP_FROM = {"suite": re.compile(r"^-+ benchmark ")}


def describe_machine():
    cpu = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True).stdout.strip() or "unknown"
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (f"{date}, commit {commit}, {cpu} ({os.cpu_count()} cores), "
            f"Python {platform.python_version()}")


def run_section(name):
    shown, argv = SECTIONS[name]
    env = {k: v for k, v in os.environ.items()
           if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    print(f"running: {shown}", file=sys.stderr, flush=True)
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{shown} failed ({done.returncode}):\n{done.stderr}")
    lines = [line.rstrip() for line in done.stdout.strip().splitlines()]
    start = KEEP_FROM.get(name)
    if start is not None:
        lines = lines[next((i for i, line in enumerate(lines) if start.match(line)), 0):]
    output = "\n".join(lines)
    return f"Measured {describe_machine()}:\n\n```text\n$ {shown}\n{output}\n```"


def replace_section(text, name, body):
    pattern = re.compile(rf"(<!-- figures:{name}:begin -->\n).*?(<!-- figures:{name}:end -->)",
                         re.S)
    if not pattern.search(text):
        raise SystemExit(f"README.md has no <!-- figures:{name}:begin/end --> markers")
    return pattern.sub(lambda m: m.group(1) + body + "\n" + m.group(2), text)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=sorted(SECTIONS), action="append",
                        help="regenerate only this section (repeatable)")
    args = parser.parse_args(argv)
    for name in args.only or list(SECTIONS):
        body = run_section(name)
        README.write_text(replace_section(README.read_text(), name, body))
        print(f"updated README section {name!r}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
