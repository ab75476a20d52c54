"""Objects rebuilt from ``get_config()`` dicts that name their class (``"class": "L2"``)."""


def from_class_config(config, classes, kind):
    """``classes[config["class"]](**the other entries)``, or a ValueError naming ``kind``.

    Args:
        config: a dict as ``get_config()`` of one of ``classes`` returns it.
        classes: ``{class name: class}``, the classes a file may name.
        kind: what the object is ("metric", "regularizer"), for the message.
    """
    config = dict(config)
    cls = classes.get(config.pop("class", None))
    if cls is None:
        raise ValueError(f"Unknown {kind} class in {config!r}")
    return cls(**config)
