"""What this build of denseops is and which code paths it runs."""

import platform

from denseops import _kernels


def show_config() -> None:
    """Print the version, compiler, threading and the SIMD path of each kernel.

    Example::

        >>> import denseops
        >>> denseops.show_config()  # doctest: +SKIP
        denseops 0.1.0 ...
    """
    c = _kernels._config()
    simd = c["arch"]
    lines = [
        f"denseops {c['version']}",
        f"  compiler        {c['compiler']}",
        f"  python          {platform.python_version()} ({platform.machine()})",
        f"  openmp          {'on' if c['openmp'] else 'off'}",
        f"  threads         {c['num_threads']}",
        f"  cpu avx2+fma    {'yes' if c['cpu_avx2_fma'] else 'no'}",
        f"  simd path       {simd}  (force with DENSEOPS_ARCH=generic|avx2 or set_arch)",
        f"  relu/add/bias   {simd}: vectorized loops",
        f"  dot             {simd}: 32 (float32) / 16 (float64) partial sums",
        f"  matmul float32  {c['gemm_f32']}",
        f"  matmul float64  {c['gemm_f64']}",
    ]
    print("\n".join(lines))
