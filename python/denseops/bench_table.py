"""The table `denseops bench` prints: per case, every implementation side by side."""


def format_seconds(s):
    """A time with a unit that keeps 3-4 significant digits: ' 312.50 us'."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if s >= scale:
            return f"{s / scale:7.2f} {unit:2}"
    return f"{s / 1e-9:7.1f} ns"


def _ratio(x):
    if x is None:
        return ""
    # Three significant digits, so 0.00117x (loops vs NumPy) does not print as 0.00x.
    return f"{x:,.0f}x" if x >= 100 else f"{x:.3g}x"


def format_table(rows):
    """The rows of `bench.measure_case` as a fixed-width table, skipped implementations last."""
    header = (
        f"{'operation':<10} {'size':<18} {'dtype':<8} {'implementation':<13} "
        f"{'median':>10} {'vs loops':>10} {'vs numpy':>9} {'GFLOP/s':>8}"
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        first = True
        for impl, t in row["results"].items():
            lead = (
                f"{row['operation']:<10} {row['size']:<18} {row['dtype']:<8}" if first else " " * 38
            )
            gflops = row.get("gflops", {}).get(impl)
            lines.append(
                f"{lead} {impl:<13} {format_seconds(t['median_s']):>10} "
                f"{_ratio(row['speedup_vs_python_loops'].get(impl)):>10} "
                f"{_ratio(row['speed_vs_numpy'].get(impl)):>9} "
                f"{'' if gflops is None else f'{gflops:8.1f}':>8}"
            )
            first = False
        for impl, reason in row["skipped"].items():
            lines.append(f"{' ' * 38} {impl:<13} {'skipped':>10}   ({reason})")
    return "\n".join(lines)
