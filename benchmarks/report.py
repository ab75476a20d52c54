"""Regenerates every figure in README.md and docs/ (performance.md, benchmarks.md) from real runs.

    DENSEOPS_DATA=../shared/datasets python benchmarks/report.py            # all, ~8 min
    DENSEOPS_DATA=../shared/datasets python benchmarks/report.py --only targets

Each section between `<!-- figures:NAME:CLASS:begin -->` and
`<!-- figures:NAME:CLASS:end -->` is replaced by the command that produced it,
the date, commit and machine, and the command's own output, so no figure is
ever typed by hand. CLASS is the class of CPU the run is on (avx512, avx2):
each keeps its own block, so a run on one never overwrites the other's.
OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are unset for the runs
(they make NumPy's OpenBLAS choose slower kernels on some machines).
"""

import argparse
import os
import pathlib
import re
import subprocess
import sys

import denseops
from denseops import bench_machine

ROOT = pathlib.Path(__file__).resolve().parent.parent
# The documents that hold figures blocks: the README has the main job,
# docs/performance.md the epoch comparison and import time, docs/benchmarks.md
# every full report.
DOCUMENTS = [
    ROOT / "README.md",
    ROOT / "docs" / "performance.md",
    ROOT / "docs" / "benchmarks.md",
]

# The ladder's plot is one file per CPU class, like its figures block.
CPU = bench_machine.cpu_class()
LADDER_PLOT_NAME = f"bench-{CPU}.png"
LADDER_PLOT = f"docs/{LADDER_PLOT_NAME}"

# name -> (command as shown, argv); every command runs from the repository root.
SUITE = [
    "benchmarks/test_bench_textbook.py",
    "benchmarks/test_bench_train_step.py",
    "--benchmark-only",
    "--benchmark-group-by=group",
    "--benchmark-columns=min,median,iqr,rounds",
    "-p",
    "no:cacheprovider",
]
SECTIONS = {
    "train": (
        "denseops train --verbose 2",
        [sys.executable, "-m", "denseops", "train", "--verbose", "2"],
    ),
    "epoch": (
        "python benchmarks/train_epoch.py --epochs 2 --rounds 2 --threads 2",
        [
            sys.executable,
            "benchmarks/train_epoch.py",
            "--epochs",
            "2",
            "--rounds",
            "2",
            "--threads",
            "2",
        ],
    ),
    "peak": ("python benchmarks/peak.py", [sys.executable, "benchmarks/peak.py"]),
    "predict": (
        "python benchmarks/predict.py --rounds 15",
        [sys.executable, "benchmarks/predict.py", "--rounds", "15"],
    ),
    "targets": (
        "python benchmarks/targets.py --rounds 9 --threads 1,2",
        [sys.executable, "benchmarks/targets.py", "--rounds", "9", "--threads", "1,2"],
    ),
    "ladder": (
        f"denseops bench --plot {LADDER_PLOT}",
        [sys.executable, "-m", "denseops", "bench", "--plot", LADDER_PLOT],
    ),
    "idle": (
        "python benchmarks/idle_gaps.py --rounds 2",
        [sys.executable, "benchmarks/idle_gaps.py", "--rounds", "2"],
    ),
    "suite": ("pytest " + " ".join(SUITE), [sys.executable, "-m", "pytest", *SUITE]),
    "import": (
        "python benchmarks/import_time.py --rounds 21",
        [sys.executable, "benchmarks/import_time.py", "--rounds", "21"],
    ),
    "sklearn": (
        "python benchmarks/sklearn_mlp.py --rounds 3",
        [sys.executable, "benchmarks/sklearn_mlp.py", "--rounds", "3"],
    ),
    "bf16": (
        "python benchmarks/bf16_targets.py --rounds 9 --threads 1,2",
        [sys.executable, "benchmarks/bf16_targets.py", "--rounds", "9", "--threads", "1,2"],
    ),
}
# The bf16 figures depend on the bf16 hardware (AMX on Intel Xeon, AVX512-BF16
# on Zen 4, which share the avx512 class of every other section): their own class.
_CONFIG = denseops._kernels._config()
SECTION_CPU = {
    "bf16": "amx" if _CONFIG["cpu_amx"] else "avx512-bf16" if _CONFIG["cpu_avx512_bf16"] else CPU
}
# Where a section's kept output starts (pytest's session header says nothing new).
KEEP_FROM = {"suite": re.compile(r"^-+ benchmark ")}
# Progress lines a section drops (the table after them says what they did).
DROP = {"epoch": re.compile(r"^\s+round \d+/\d+: \w+ \.\.\.$")}
# Images a section's block shows after its output (paths relative to docs/).
FIGURES = {"ladder": f"![time per call against size, one panel per operation]({LADDER_PLOT_NAME})"}


def run_section(name):
    shown, argv = SECTIONS[name]
    env = bench_machine.without_openblas_overrides()
    if env.get("DENSEOPS_DATA"):  # relative to where this script was started, not to ROOT
        env["DENSEOPS_DATA"] = os.path.abspath(os.path.expanduser(env["DENSEOPS_DATA"]))
    print(f"running: {shown}", file=sys.stderr, flush=True)
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{shown} failed ({done.returncode}):\n{done.stderr}")
    lines = [line.rstrip() for line in done.stdout.strip().splitlines()]
    start = KEEP_FROM.get(name)
    if start is not None:
        lines = lines[next((i for i, line in enumerate(lines) if start.match(line)), 0) :]
    drop = DROP.get(name)
    if drop is not None:
        lines = [line for line in lines if not drop.match(line)]
    output = "\n".join(lines)
    machine = bench_machine.summary(bench_machine.machine_info())
    body = f"Measured {machine}:\n\n```text\n$ {shown}\n{output}\n```"
    return body + (f"\n\n{FIGURES[name]}" if name in FIGURES else "")


def replace_section(text, name, body, cpu):
    """Put `body` between the markers of section `name` for CPU class `cpu`.

    Each class of CPU keeps its own block (`<!-- figures:NAME:CLASS:begin -->`),
    so a run on one class never overwrites another's figures. A class that
    has no block yet gets one after the section's last block.
    """
    marker = f"{name}:{cpu}"
    pattern = re.compile(
        rf"(<!-- figures:{marker}:begin -->\n).*?(<!-- figures:{marker}:end -->)", re.S
    )
    if pattern.search(text):
        return pattern.sub(lambda m: m.group(1) + body + "\n" + m.group(2), text)
    ends = list(re.finditer(rf"<!-- figures:{name}:[\w-]+:end -->", text))
    if not ends:
        raise ValueError(f"no <!-- figures:{name}:CLASS:begin/end --> markers")
    at = ends[-1].end()
    block = f"\n\n<!-- figures:{marker}:begin -->\n{body}\n<!-- figures:{marker}:end -->"
    return text[:at] + block + text[at:]


def document_with(name):
    """The one document holding section `name`'s figures blocks."""
    marker = f"<!-- figures:{name}:"
    holding = [path for path in DOCUMENTS if marker in path.read_text()]
    if len(holding) != 1:
        found = ", ".join(str(path.relative_to(ROOT)) for path in holding) or "none"
        raise SystemExit(
            f"section {name!r} must have its markers in exactly one document; found: {found}"
        )
    return holding[0]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--only",
        choices=sorted(SECTIONS),
        action="append",
        help="regenerate only this section (repeatable)",
    )
    args = parser.parse_args(argv)
    for name in args.only or list(SECTIONS):
        document = document_with(name)
        body = run_section(name)
        cpu = SECTION_CPU.get(name, CPU)
        document.write_text(replace_section(document.read_text(), name, body, cpu))
        print(f"updated section {name!r} of {document.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
