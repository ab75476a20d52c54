"""What this build of denseops is and which code paths it runs."""

import os

from denseops import _kernels

ARCHES = ("auto", "amx", "avx512-bf16", "avx512", "avx2", "generic")


def apply_arch_from_environment() -> None:
    """Force the SIMD path named by ``$DENSEOPS_ARCH`` (called at import).

    An unknown value is an error naming the allowed ones rather than a
    silently ignored typo, and so is a path this CPU cannot run.
    """
    wanted = os.environ.get("DENSEOPS_ARCH", "").strip()
    if not wanted:
        return
    try:
        _kernels.set_arch(wanted)
    except ValueError as error:
        reason = str(error).removeprefix("set_arch: ")
        raise ValueError(f"DENSEOPS_ARCH={wanted!r}: {reason}") from None


def show_config() -> None:
    """Print the version, compiler, threading and the SIMD path of each kernel.

    Example::

        >>> import denseops
        >>> denseops.show_config()  # doctest: +SKIP
        denseops 0.1.0 ...
    """
    import platform  # only here: it costs more at import than the rest of this module

    c = _kernels._config()
    # amx and avx512-bf16 add a bf16 GEMM to the avx512 path: the other
    # kernels name the float path they run on.
    simd = c["gemm_f32"].split(":")[0]
    lines = [
        f"denseops {c['version']}",
        f"  compiler        {c['compiler']}",
        f"  python          {platform.python_version()} ({platform.machine()})",
        f"  openmp          {'on' if c['openmp'] else 'off'}",
        f"  threads         {c['num_threads']}",
        f"  cpu avx512      {'yes' if c['cpu_avx512'] else 'no'}  (F/VL/BW/DQ and OS zmm state)",
        f"  cpu avx2+fma    {'yes' if c['cpu_avx2_fma'] else 'no'}",
        f"  cpu avx512-bf16 {'yes' if c['cpu_avx512_bf16'] else 'no'}",
        f"  cpu amx         {'yes' if c['cpu_amx'] else 'no'}  (AMX-TILE/BF16, tile state granted)",
        f"  simd path       {c['arch']}  (force with DENSEOPS_ARCH={'|'.join(ARCHES[1:])} "
        "or set_arch)",
        f"  elementwise     {simd}: vectorized loops (relu, add, bias, backward)",
        f"  reductions      {simd}: vectorized partial sums (dot, column_sums)",
        f"  loss, softmax   {simd}: vectorized row loops",
        f"  optimizers      {simd}: vectorized fused updates",
        f"  matmul float32  {c['gemm_f32']}",
        f"  matmul float64  {c['gemm_f64']}",
        f"  matmul bfloat16 {c['gemm_bf16']}",
    ]
    print("\n".join(lines))
