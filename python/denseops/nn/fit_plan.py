"""The validated plan of one ``fit``: its numbers, callbacks, and where its batches come from.

``Sequential.fit`` reads as Keras's does: make the plan (every argument
checked before anything trains), then run epochs of the plan's batches
through the callbacks. The batches come from ``batches.py``: whole arrays (in
memory or memory-mapped) or a generator or PyDataset, converted batch by
batch.
"""

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from denseops.argument_errors import check_count
from denseops.nn.batches import ArrayBatches, StreamTrainBatches
from denseops.nn.callbacks import Callback, TerminateOnNaN
from denseops.nn.data_adapters import StreamBatches, is_stream


@dataclass
class FitPlan:
    """Everything ``fit`` decided before training; see ``make``."""

    epochs: int
    initial_epoch: int
    verbose: int
    callbacks: list
    rng: Any
    data: Any  # ArrayBatches or StreamTrainBatches
    metrics: Any  # the training metrics (None until a stream's first batch)
    validation: Any = None  # a validation source, see Sequential._validation_batches
    validation_freq: int = 1
    skip_non_finite: bool = False
    params: dict = field(default_factory=dict)

    def validates_after(self, epoch):
        return self.validation is not None and (epoch + 1) % self.validation_freq == 0


def check_callbacks(callbacks):
    callbacks = list(callbacks or [])
    for callback in callbacks:
        if not isinstance(callback, Callback):
            raise TypeError(
                f"callbacks must be denseops.nn.callbacks.Callback objects. Received: {callback!r}"
            )
    return callbacks


def check_steps(argument, steps):
    return None if steps is None else check_count(argument, steps)


def make_plan(model, args, verbose):
    """Checks fit()'s arguments (a dict of them by name) and builds the plan.

    Nothing trains and no callback runs before every argument is checked.
    """
    batch_size = 32 if args["batch_size"] is None else check_count("batch_size", args["batch_size"])
    epochs = check_count("epochs", args["epochs"])
    initial_epoch = check_count("initial_epoch", args["initial_epoch"], minimum=0)
    validation_freq = check_count("validation_freq", args["validation_freq"])
    validation_batch_size = args["validation_batch_size"]
    validation_batch_size = (
        batch_size
        if validation_batch_size is None
        else check_count("validation_batch_size", validation_batch_size)
    )
    steps_per_epoch = check_steps("steps_per_epoch", args["steps_per_epoch"])
    validation_steps = check_steps("validation_steps", args["validation_steps"])
    validation_split = args["validation_split"]
    if not isinstance(validation_split, (int, float)) or not 0 <= validation_split < 1:
        raise ValueError(
            f"validation_split must be in [0, 1). Received: validation_split={validation_split!r}"
        )
    callbacks = check_callbacks(args["callbacks"])
    x, y, validation_data = args["x"], args["y"], args["validation_data"]
    rng = np.random.default_rng(args["seed"])
    if is_stream(x):
        data, metrics = _stream_data(model, x, args, steps_per_epoch, validation_split, rng)
        params = {"steps": data.steps, "batch_size": None, "samples": None}
    else:
        if steps_per_epoch is not None:
            raise ValueError(
                "steps_per_epoch is for generators and PyDataset inputs; fit() on arrays always "
                f"uses all of them. Received: steps_per_epoch={steps_per_epoch!r}"
            )
        data, metrics, validation_data = _array_data(
            model, x, y, args, batch_size, validation_split, validation_data, rng
        )
        params = {"steps": data.steps, "batch_size": batch_size, "samples": data.samples}
    validation = model._validation_source(validation_data, validation_steps, validation_batch_size)
    return FitPlan(
        epochs=epochs,
        initial_epoch=initial_epoch,
        verbose=verbose,
        callbacks=callbacks,
        rng=rng,
        data=data,
        metrics=metrics,
        validation=validation,
        validation_freq=validation_freq,
        skip_non_finite=any(isinstance(c, TerminateOnNaN) for c in callbacks),
        params={"verbose": verbose, "epochs": epochs, **params},
    )


def _stream_data(model, x, args, steps_per_epoch, validation_split, rng):
    for argument in ("y", "sample_weight"):
        if args[argument] is not None:
            raise ValueError(
                f"{argument} must be None when x is a generator or PyDataset (its batches "
                f"carry their targets and weights). Received: {argument} of type "
                f"{type(args[argument]).__name__}"
            )
    if validation_split:
        raise ValueError(
            "validation_split needs arrays (it holds out their last samples); with a "
            "generator or PyDataset pass validation_data instead"
        )
    model._plan_fusion()
    build_seed = None if model.built else rng.integers(2**63)
    data = StreamTrainBatches(
        model,
        StreamBatches(x, steps_per_epoch, "x", training=True),
        args["class_weight"],
        build_seed,
        shuffle=bool(args["shuffle"]),
    )
    return data, None


def _array_data(model, x, y, args, batch_size, validation_split, validation_data, rng):
    x, y = model._check_xy(x, y)
    weights = model._sample_weights(y, args["sample_weight"], args["class_weight"])
    if validation_data is None and validation_split > 0:
        keep = len(x) - int(len(x) * validation_split)
        if keep <= 0 or keep == len(x):
            raise ValueError(
                f"validation_split={validation_split} of {len(x)} samples leaves an empty "
                "training or validation set"
            )
        # The held-out samples keep their weights (class_weight's too), as in Keras.
        val_weights = None if weights is None else weights[keep:]
        validation_data = (x[keep:], y[keep:], val_weights)
        x, y = x[:keep], y[:keep]
        if weights is not None:
            weights = weights[:keep]
    if not model.built:
        model.build((None, *x.shape[1:]), seed=rng.integers(2**63))
    model._plan_fusion()
    y_loss, y_metric = model._targets(y)
    metrics = model._new_metrics(y)
    data = ArrayBatches(model, x, y_loss, y_metric, weights, batch_size, args["shuffle"])
    return data, metrics, validation_data
