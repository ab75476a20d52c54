"""What a benchmark ran on: CPU, cores, load, BLAS, versions, commit, environment.

Every benchmark prints its figures with this description, so two runs can be
told apart, and warns here (`openblas_override_notes`) about the variables that
make NumPy's OpenBLAS choose slower kernels.
"""

import datetime
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

import denseops

# Set on some machines for older OpenBLAS builds; they make a current NumPy's
# OpenBLAS choose slower kernels, so comparisons with NumPy run without them.
OPENBLAS_OVERRIDES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
# The variables that change timings, recorded with every run.
ENVIRONMENT_PREFIXES = ("OPENBLAS", "OMP_", "GOMP_", "MKL_", "DENSEOPS_")


def openblas_override_notes(env=None, unset_for_numpy=False):
    """One sentence per OpenBLAS override set in `env` (default: os.environ); with
    `unset_for_numpy`, the benchmark runs NumPy without it and says so."""
    env = os.environ if env is None else env
    return [
        f"{var}={env[var]} is set and can slow NumPy's OpenBLAS; "
        + ("unset in NumPy's worker" if unset_for_numpy else f"compare with `env -u {var} ...`")
        for var in OPENBLAS_OVERRIDES
        if var in env
    ]


def without_openblas_overrides(env=None):
    """A copy of `env` (default: os.environ) without the OpenBLAS overrides."""
    env = os.environ if env is None else env
    return {k: v for k, v in env.items() if k not in OPENBLAS_OVERRIDES}


def cpu_model():
    """The CPU's name with its family and model numbers (a VM may show only "AMD EPYC")."""
    fields = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    name = fields.get("model name") or platform.processor() or platform.machine()
    if "cpu family" not in fields:
        return name
    return f"{name} (family {fields['cpu family']}, model {fields.get('model', '?')})"


def cpu_class():
    """The class of CPU: the best SIMD path it runs natively (avx512, avx2 or generic)."""
    config = denseops._kernels._config()
    return "avx512" if config["cpu_avx512"] else "avx2" if config["cpu_avx2_fma"] else "generic"


def commit():
    """The short git commit of the denseops source tree, or None outside a checkout.

    An editable install is its own checkout; an installed copy is not, so the
    checkout the benchmark scripts run from (the current directory) is asked next.
    """
    here = Path.cwd()
    places = [Path(denseops.__file__).resolve().parent]
    if (here / "python" / "denseops" / "__init__.py").is_file():
        places.append(here)
    for place in places:
        try:
            done = subprocess.run(
                ["git", "rev-parse", "--short", "HEAD"],
                cwd=place,
                capture_output=True,
                text=True,
                timeout=10,
            )
        except (OSError, subprocess.SubprocessError):
            continue
        if done.stdout.strip():
            return done.stdout.strip()
    return None


def _version(dist):
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _threadpools():
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "threadpoolctl not installed"
    keys = (
        "user_api",
        "internal_api",
        "prefix",
        "version",
        "architecture",
        "threading_layer",
        "num_threads",
    )
    return [{k: pool.get(k) for k in keys} for pool in threadpool_info()]


def machine_info():
    """CPU, cores, load, BLAS, versions, commit and the environment that changes timings."""
    import numpy as np

    config = denseops._kernels._config()
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "cpu": cpu_model(),
        "cpu_class": cpu_class(),
        "logical_cores": os.cpu_count(),
        "usable_cores": (
            len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        ),
        # Other work on the machine inflates and scatters every timing.
        "load_average_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "denseops": denseops.__version__,
        "denseops_commit": commit(),
        "denseops_arch": config["arch"],
        "denseops_matmul": {"float32": config["gemm_f32"], "float64": config["gemm_f64"]},
        "denseops_compiler": config["compiler"],
        "torch": _version("torch"),
        "threadpools": _threadpools(),
        "environment": {
            k: v for k, v in sorted(os.environ.items()) if k.startswith(ENVIRONMENT_PREFIXES)
        },
    }


def blas_summary(info):
    """NumPy's BLAS from `machine_info()`: library, version, kernel and threading layer."""
    pools = info["threadpools"]
    if isinstance(pools, str):
        return pools
    blas = [p for p in pools if p["user_api"] == "blas"]
    return (
        "; ".join(
            f"{p['internal_api']} {p['version']} ({p['architecture']}, {p['threading_layer']})"
            for p in blas
        )
        or "none found"
    )


def load_text(info):
    """The 1-minute load average from `machine_info()`, with what it means for the figures."""
    load = info["load_average_1min"]
    if load is None:
        return "unknown"
    return f"{load:.2f} (1-minute average; well above 0 means other work shares the cores)"


def summary(info):
    """One line: date, commit, CPU and its class, cores, Python (what a report's heading says)."""
    date = info["date"][:16].replace("T", " ")
    return (
        f"{date} UTC, commit {info['denseops_commit'] or 'unknown'}, {info['cpu']}, "
        f"{info['cpu_class']} path ({info['logical_cores']} cores), Python {info['python']}"
    )


def describe(info, threads=None, unset_for_numpy=False):
    """The lines every benchmark prints first: CPU, load, NumPy's BLAS, denseops' path, and
    a warning per OpenBLAS override set (see openblas_override_notes)."""
    lines = [
        f"cpu       : {info['cpu']}, {info['usable_cores']} usable cores",
        f"load      : {load_text(info)}",
        f"numpy     : {info['numpy']}, BLAS {blas_summary(info)}",
        f"denseops  : {info['denseops']} (commit {info['denseops_commit'] or 'unknown'}), "
        f"path {info['denseops_arch']}, f32 GEMM {info['denseops_matmul']['float32']}"
        + (f", {threads} thread(s)" if threads else ""),
    ]
    lines += [f"warning   : {note}" for note in openblas_override_notes(None, unset_for_numpy)]
    return lines


def heading(title=None, threads=None, unset_for_numpy=False):
    """What a benchmark prints first: its `title`, the `summary` line, the `describe` lines."""
    info = machine_info()
    lines = [title] if title else []
    return "\n".join(lines + [summary(info), *describe(info, threads, unset_for_numpy)])
