"""``keras.saving``: saving and loading whole models, under Keras's module name."""

from denseops.nn.models import load_model


def save_model(model, filepath, overwrite=True):
    """Saves ``model`` to ``filepath``, as ``keras.saving.save_model`` (``model.save``).

    Args:
        model: a ``Sequential``.
        filepath: where to write.
        overwrite: False refuses to replace an existing file.
    """
    import os

    if not overwrite and os.path.exists(filepath):
        raise FileExistsError(f"{os.fspath(filepath)!r} exists and overwrite=False")
    model.save(filepath)


__all__ = ["load_model", "save_model"]
