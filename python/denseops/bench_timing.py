"""The one timer of every benchmark: calibrated samples of back-to-back calls.

A sample is `number` calls of a zero-argument callable, timed with
`time.perf_counter_ns`; `calls_per_sample` picks `number` after one warm-up
call so that a sample lasts at least a target time. Implementations take
turns sample by sample (`rotated`), so a burst of load from a neighbour on a
shared machine hits all of them alike.
"""

import statistics
import time

# Thread pools spin after a call before they sleep: libgomp's for a few ms,
# OpenBLAS's for 2^28 TSC cycles (its THREAD_TIMEOUT): 0.103 s at this
# machine's 2.6 GHz (measured: its workers' CPU time stops growing 0.08-0.10 s
# after a call), 0.134 s at a 2.0 GHz base clock. On 2 cores the previous
# library's spinning workers steal the core that this one's second thread
# needs, and a small threaded call then waits a whole scheduler slice (a
# 128x512x10 matmul took ~6 ms instead of ~30 us after a 20 ms pause). So a
# sample of a threaded call starts after a pause longer than that spin on
# CPUs clocked from 1.8 GHz up, and one untimed call that wakes its own
# workers (`settle`).
IDLE_PAUSE_S = 0.15


def sample_ns(fn, number):
    """Nanoseconds for `number` back-to-back calls of `fn`."""
    start = time.perf_counter_ns()
    for _ in range(number):
        fn()
    return time.perf_counter_ns() - start


def calls_per_sample(fn, target_ns):
    """Warm up `fn` once, then find how many calls make a sample of >= target_ns."""
    fn()  # warm-up: page faults, lazy initialisation, caches; often far slower
    number = 1
    elapsed = sample_ns(fn, 1)
    while elapsed < target_ns:
        # Aim 20 % over the target so one more doubling is rarely needed.
        number = max(2 * number, int(number * 1.2 * target_ns / max(elapsed, 1)))
        elapsed = sample_ns(fn, number)
    return number


def settle(fn, pause_s):
    """With `pause_s` > 0: sleep until the previous library's threads sleep, then wake
    `fn`'s own threads with one untimed call (see IDLE_PAUSE_S)."""
    if pause_s:
        time.sleep(pause_s)
        fn()


def settled_sample_ns(fn, number, pause_s):
    """Nanoseconds for `number` calls of `fn`, after `settle(fn, pause_s)`."""
    settle(fn, pause_s)
    return sample_ns(fn, number)


def rotated(names, round_index):
    """The order of round `round_index`: each name leads in turn (two names alternate)."""
    names = list(names)
    shift = round_index % len(names)
    return names[shift:] + names[:shift]


def time_interleaved(calls, repeats, target_ns, pause_s=None):
    """Median and minimum seconds per call of each callable in `calls`, a name -> callable dict.

    One sample of each implementation per round, the order rotating every
    round. `pause_s` maps the names that run threaded to their pause before
    each sample (see IDLE_PAUSE_S); the others start at once.
    """
    pause_s = pause_s or {}
    numbers = {name: calls_per_sample(fn, target_ns) for name, fn in calls.items()}
    samples = {name: [] for name in calls}
    for r in range(repeats):
        for name in rotated(calls, r):
            elapsed = settled_sample_ns(calls[name], numbers[name], pause_s.get(name, 0.0))
            samples[name].append(elapsed / numbers[name] / 1e9)
    return {
        name: {
            "median_s": statistics.median(samples[name]),
            "min_s": min(samples[name]),
            "calls_per_sample": numbers[name],
            "repeats": repeats,
        }
        for name in calls
    }
