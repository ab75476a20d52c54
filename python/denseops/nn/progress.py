"""What `fit` shows while it runs: a tqdm bar per epoch (verbose=1), one line
per epoch (verbose=2), or nothing (verbose=0)."""

import sys
import time


def format_logs(logs):
    return " - ".join(f"{k}: {v:.4f}" for k, v in logs.items())


class EpochProgress:
    """Progress of one epoch of ``samples`` samples."""

    def __init__(self, epoch, epochs, samples, verbose):
        self.verbose = verbose
        self.label = f"Epoch {epoch}/{epochs}"
        self.start = time.perf_counter()
        self._bar = None
        if verbose == 1:
            # Imported on first use: tqdm.auto costs more than the rest of
            # `import denseops.nn`, and verbose=0/2 never needs it.
            from tqdm.auto import tqdm

            self._bar = tqdm(
                total=samples,
                desc=self.label,
                unit="sample",
                unit_scale=True,
                leave=True,
                file=sys.stdout,
                dynamic_ncols=True,
            )

    def update(self, samples, logs):
        if self._bar is not None:
            self._bar.update(samples)
            # Formatting the logs costs more than a small batch: refresh them every
            # 20th batch and at the end.
            if self._bar.n == self._bar.total or self._bar.n % (samples * 20) < samples:
                self._bar.set_postfix({k: f"{v:.4f}" for k, v in logs.items()}, refresh=False)

    def close(self, logs):
        seconds = time.perf_counter() - self.start
        if self._bar is not None:
            self._bar.set_postfix({k: f"{v:.4f}" for k, v in logs.items()}, refresh=True)
            self._bar.close()
        elif self.verbose == 2:
            print(f"{self.label} - {seconds:.2f}s - {format_logs(logs)}", flush=True)
        return seconds
