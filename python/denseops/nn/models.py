"""``keras.models``: the model class and the loader, under Keras's module name.

``from denseops.nn import models`` then ``models.Sequential([...])`` and
``models.load_model(path)``, as a Keras script writes them.
"""

from denseops.nn.model import Sequential


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):  # noqa: A002 - Keras's name
    """Loads a model saved by ``model.save``, as ``keras.models.load_model``.

    Args:
        filepath: the saved file.
        custom_objects: must be None: a saved denseops model holds only
            built-in layers, activations, losses and optimizers.
        compile: whether to restore the loss, metrics and optimizer state.
        safe_mode: accepted for Keras compatibility; loading never runs
            code from the file.
    """
    from denseops.nn.serialization import load

    if custom_objects:
        raise ValueError(
            "custom_objects is not supported: a denseops model file holds only built-in "
            f"layers, activations, losses and optimizers. Received: {sorted(custom_objects)}"
        )
    model = load(filepath)
    if not compile:
        model.optimizer = model.loss = None
        model.metrics = []
    return model


__all__ = ["Sequential", "load_model"]
