"""Keras 3's ``config.json`` for the models denseops.nn expresses: written, and read back.

A ``.keras`` file's config is ``serialize_keras_object(model)``: nested
``{"module", "class_name", "config", "registered_name"}`` objects. Writing
produces what Keras 3 itself writes for the same Sequential model (keys that
only hold Keras's defaults are left out, so every Keras 3 release reads it).
Reading accepts exactly what denseops can compute the same way Keras does,
and refuses anything else with a ValueError naming the layer and the setting:
other layer classes (Lambda, whose config carries marshalled code, among
them), custom objects (``registered_name``), frozen layers, mixed-precision
policies, constraints, learning-rate schedules, weight decay, clipping...
Nothing in a config is ever executed or imported.
"""

import inspect

import numpy as np

from denseops.nn import activations, initializers, losses, metrics, optimizers, regularizers
from denseops.nn.layers import Activation, Dense, Dropout, Flatten, Input, Reshape

# ------------------------------------------------------------------ shared


def _object(module, class_name, config):
    return {"module": module, "class_name": class_name, "config": config, "registered_name": None}


def _policy(dtype):
    return _object("keras", "DTypePolicy", {"name": np.dtype(dtype).name})


_KINDS = {
    Dense: "dense",
    Dropout: "dropout",
    Activation: "activation",
    Flatten: "flatten",
    Reshape: "reshape",
}


def h5_keys(layers):
    """Keras's group name per layer in the weights file: the snake-cased class
    name, numbered from its second occurrence (``dense``, ``dense_1``, ``dropout``)."""
    seen, keys = {}, []
    for layer in layers:
        if type(layer) not in _KINDS:
            raise ValueError(
                f"Layer {layer.name!r} of class {type(layer).__name__} has no Keras "
                f"equivalent here: Keras's files take {sorted(c.__name__ for c in _KINDS)}"
            )
        kind = _KINDS[type(layer)]
        keys.append(kind if kind not in seen else f"{kind}_{seen[kind]}")
        seen[kind] = seen.get(kind, 0) + 1
    return keys


# The optimizers and metric classes whose layout in Keras's files (slot order,
# config keys) was checked against Keras 3.15; others are refused both ways
# rather than written or read in a layout that might not be Keras's.
_OPTIMIZERS = {"SGD": optimizers.SGD, "RMSprop": optimizers.RMSprop, "Adam": optimizers.Adam}
_METRICS = {
    name: metrics._CLASSES[name]
    for name in (
        "BinaryAccuracy",
        "CategoricalAccuracy",
        "SparseCategoricalAccuracy",
        "TopKCategoricalAccuracy",
        "SparseTopKCategoricalAccuracy",
        "MeanAbsoluteError",
        "MeanSquaredError",
    )
}

# ------------------------------------------------------------------ writing

_ACTIVATION_NAMES = {"swish": "silu"}  # Keras 3 serializes swish as silu
_DEFAULT_ALPHA = {"elu": 1.0, "leaky_relu": 0.2}
_INITIALIZERS: dict[str, tuple[str, dict]] = {
    "glorot_uniform": ("GlorotUniform", {"seed": None}),
    "glorot_normal": ("GlorotNormal", {"seed": None}),
    "he_uniform": ("HeUniform", {"seed": None}),
    "he_normal": ("HeNormal", {"seed": None}),
    "random_uniform": ("RandomUniform", {"minval": -0.05, "maxval": 0.05, "seed": None}),
    "textbook_uniform": ("RandomUniform", {"minval": 0.0, "maxval": 0.1, "seed": None}),
    "zeros": ("Zeros", {}),
    "ones": ("Ones", {}),
}


def model_to_config(model):
    """The ``config.json`` object of a built ``Sequential`` model."""
    names = [layer.name for layer in model.layers]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(
            f"Cannot write a .keras file: layer names {duplicates} appear more than once, "
            "and Keras needs unique names"
        )
    dtype, input_shape = model.dtype, list(model.input_shape)
    input_layer = _object(
        "keras.layers",
        "InputLayer",
        {"batch_shape": input_shape, "dtype": dtype.name, "sparse": False, "name": "input_layer"},
    )
    layers = [input_layer] + [_layer_to_config(layer) for layer in model.layers]
    config = {
        "name": model.name,
        "trainable": True,
        "dtype": _policy(dtype),
        "layers": layers,
        "build_input_shape": input_shape,
    }
    result = _object("keras", "Sequential", config)
    result["build_config"] = {"input_shape": input_shape}
    if model.loss is not None:
        result["compile_config"] = _compile_to_config(model)
    return result


def refuse_mixed_precision(layer, where):
    """Refuses a layer under a mixed policy (``mixed_bfloat16``: float32 weights,
    bfloat16 products) where it would be written as plain float32 (ONNX: its
    graph would compute other products than the model does)."""
    policy = getattr(getattr(layer, "dtype_policy", None), "name", None)
    if policy not in (None, "float32", "float64"):
        raise ValueError(
            f"Cannot write layer {layer.name!r} to {where}: its dtype policy {policy!r} is "
            "not written there yet (float32 and float64 models are)"
        )


def _layer_to_config(layer):
    policy = getattr(layer, "dtype_policy", None)  # a Dense's, mixed_bfloat16 included
    dtype = (
        _object("keras", "DTypePolicy", {"name": policy.name})
        if policy is not None
        else _policy(layer.dtype)
    )
    base = {"name": layer.name, "trainable": True, "dtype": dtype}
    if type(layer) is Activation:
        config = {**base, "activation": _activation_name(layer)}
        return _object("keras.layers", "Activation", config)
    if type(layer) is Flatten:
        return _object("keras.layers", "Flatten", {**base, "data_format": "channels_last"})
    if type(layer) is Reshape:
        config = {**base, "target_shape": list(layer.target_shape)}
        return _object("keras.layers", "Reshape", config)
    if type(layer) is Dropout:
        config = {
            **base,
            "rate": layer.rate,
            # Keras keeps seeds in uint32: a denseops seed drawn at build time
            # (63 bits) is folded into that range; Keras's masks differ anyway.
            "seed": None if layer.seed is None else layer.seed % 2**31,
            "noise_shape": None,
        }
        return _object("keras.layers", "Dropout", config)
    if type(layer) is not Dense:
        h5_keys([layer])  # raises, naming the layer and the classes Keras's files take
    config = {
        **base,
        "units": layer.units,
        "activation": _activation_name(layer),
        "use_bias": layer.use_bias,
        "kernel_initializer": _initializer_config(layer, "kernel_initializer"),
        "bias_initializer": _initializer_config(layer, "bias_initializer"),
        "kernel_regularizer": _regularizer_config(layer.kernel_regularizer),
        "bias_regularizer": _regularizer_config(layer.bias_regularizer),
        "kernel_constraint": None,
        "bias_constraint": None,
    }
    result = _object("keras.layers", "Dense", config)
    result["build_config"] = {"input_shape": [None, layer.input_dim]}
    return result


def _activation_name(layer):
    activation = layer.activation
    name = activations.serialize(activation)  # refuses activations load() cannot rebuild
    if isinstance(name, dict):
        name = name["name"]
        if activation.alpha != _DEFAULT_ALPHA.get(name, 0.0):
            raise ValueError(
                f"Cannot write layer {layer.name!r} to a .keras file: its {name} activation "
                f"has alpha={activation.alpha}, and Keras's Dense takes {name} with its "
                f"default alpha={_DEFAULT_ALPHA.get(name)} only"
            )
    return _ACTIVATION_NAMES.get(name, name)


def _initializer_config(layer, argument):
    name = initializers.name_of(getattr(layer, argument))
    if name not in _INITIALIZERS:
        raise ValueError(
            f"Cannot write layer {layer.name!r} to a .keras file: its {argument} "
            f"{getattr(layer, argument)!r} is not one of {sorted(_INITIALIZERS)}"
        )
    class_name, config = _INITIALIZERS[name]
    return _object("keras.initializers", class_name, dict(config))


def _regularizer_config(regularizer):
    config = regularizers.serialize(regularizer)
    if config is None:
        return None
    config = dict(config)
    return _object("keras.regularizers", config.pop("class"), config)


def _compile_to_config(model):
    optimizer = model.optimizer
    if type(optimizer) not in _OPTIMIZERS.values():
        raise ValueError(
            f"Cannot write optimizer {optimizer!r} to a .keras file: the optimizers written "
            f"there are {sorted(_OPTIMIZERS)} (compile with one of them, or save to .npz)"
        )
    optimizer_config = optimizer.get_config()
    if isinstance(optimizer, optimizers.RMSprop):
        optimizer_config.update(momentum=0.0, centered=False)
    elif isinstance(optimizer, optimizers.Adam):
        optimizer_config["amsgrad"] = False
    loss_config = model.loss.get_config()
    loss_class = loss_config.pop("class")
    if loss_config.get("dtype") is None:
        loss_config.pop("dtype")
    return {
        "optimizer": _object("keras.optimizers", type(optimizer).__name__, optimizer_config),
        "loss": _object(
            "keras.losses", loss_class, {**loss_config, "reduction": "sum_over_batch_size"}
        ),
        "loss_weights": None,
        "metrics": [_metric_to_config(m) for m in model.metrics],
        "weighted_metrics": [_metric_to_config(m) for m in model.weighted_metrics] or None,
        "run_eagerly": False,
        "steps_per_execution": 1,
        "jit_compile": False,
    }


def _metric_to_config(metric):
    config = metrics.serialize(metric)
    if isinstance(config, str):
        return config
    config = dict(config)
    if config["class"] not in _METRICS:
        raise ValueError(
            f"Cannot write metric {metric!r} to a .keras file: the metric objects written "
            f"there are {sorted(_METRICS)} (or pass the metric by its name)"
        )
    return _object("keras.metrics", config.pop("class"), config)


# ------------------------------------------------------------------ reading


class Plan:
    """What a Keras config describes, in denseops terms, before any weight is read.

    Attributes:
        name: the model's name.
        input_shape: one input sample's shape.
        dtype: the one dtype of every layer (float32 or float64).
        layers: the unbuilt denseops layers.
        weight_shapes: per layer, the shapes of its weights in Keras's order.
        compile: None, or {"optimizer", "loss", "metrics"} for ``compile``.
    """

    def __init__(self, name, input_shape, dtype, layers, weight_shapes, compile_args):
        self.name, self.input_shape, self.dtype = name, input_shape, dtype
        self.layers, self.weight_shapes, self.compile = layers, weight_shapes, compile_args


def _expect(value, types, where):
    if not isinstance(value, types) or (isinstance(value, bool) and bool not in _tuple(types)):
        names = " or ".join(t.__name__ for t in _tuple(types))
        raise ValueError(f"{where} must be {names}. Received: {value!r:.100}")
    return value


def _tuple(types):
    return types if isinstance(types, tuple) else (types,)


def _keras_object(value, where, modules, classes):
    """(class_name, config) of a serialized built-in Keras object, refusing custom ones."""
    _expect(value, dict, where)
    class_name = _expect(value.get("class_name"), str, f"{where} class_name")
    if value.get("registered_name") not in (None, class_name) or value.get("module") not in modules:
        raise ValueError(
            f"{where} is a custom object ({value.get('module')!r}, registered as "
            f"{value.get('registered_name')!r}); denseops reads Keras's built-in objects only"
        )
    if class_name not in classes:
        raise ValueError(
            f"{where}: class {class_name!r} cannot be expressed by denseops.nn; "
            f"expected one of {sorted(classes)}"
        )
    return class_name, _expect(value.get("config", {}), dict, f"{where} config")


def _refuse_settings(config, where, neutral):
    """Refuses any key of ``config`` whose value is not its neutral one (unknown keys: None)."""
    for key, value in config.items():
        allowed = neutral.get(key, (None,))
        if allowed == ():  # read elsewhere
            continue
        if not any(value is a or (value == a and type(value) is type(a)) for a in allowed):
            raise ValueError(
                f"{where}: {key}={value!r:.100} cannot be expressed by denseops.nn "
                f"(supported: {' or '.join(repr(a) for a in allowed)})"
            )


def _policy_name(value, where):
    """ "float32", "float64" or "mixed_bfloat16" from a dtype string or a DTypePolicy object."""
    name = value
    if isinstance(value, dict):
        _, config = _keras_object(value, where, ("keras",), ("DTypePolicy", "FloatDTypePolicy"))
        name = config.get("name")
    if name not in ("float32", "float64", "mixed_bfloat16"):
        raise ValueError(
            f"{where}: dtype policy {name!r:.100} cannot be expressed by denseops.nn "
            "(float32, float64 and mixed_bfloat16 only)"
        )
    return name


def _dtype(value, where):
    """The variables' dtype (float32 or float64) of a dtype string or DTypePolicy object."""
    name = _policy_name(value, where)
    return np.dtype("float32" if name == "mixed_bfloat16" else name)


_LAYER_NEUTRAL = {"trainable": (True,), "name": (), "dtype": (), "build_config": ()}


def model_from_config(config):
    """The ``Plan`` of a Keras ``config.json`` object; a ValueError names what does not fit."""
    _, model_config = _keras_object(config, "the model", ("keras", "keras.models"), ("Sequential",))
    entries = _expect(model_config.get("layers"), list, "the model's layers")
    if not entries:
        raise ValueError("the model has no layers")
    name = _expect(model_config.get("name", "sequential"), str, "the model's name")
    if model_config.get("trainable", True) is not True:
        raise ValueError("the model is frozen (trainable=False), which denseops.nn cannot express")
    input_shape, input_dtype = None, None
    layer_kinds = {"InputLayer", *(cls.__name__ for cls in _KINDS)}
    layers, shapes, dtypes, shape = [], [], [], None
    for i, entry in enumerate(entries):
        where = f"layer {i}"
        if isinstance(entry, dict) and isinstance(entry.get("config"), dict):
            where = f"layer {i} ({entry['config'].get('name')!r:.60})"
        kind, layer_config = _keras_object(entry, where, ("keras.layers",), layer_kinds)
        if kind == "InputLayer":
            if i:
                raise ValueError(f"{where}: an InputLayer must come first")
            input_shape, input_dtype = _input_layer(layer_config, where)
            continue
        if input_shape is None:  # a model built by build(): its input shape is recorded
            input_shape = _batch_shape(model_config.get("build_input_shape"), "the model")
        shape = input_shape if shape is None else shape
        layer, layer_shapes, shape = _LAYER_READERS[kind](dict(layer_config), where, shape)
        layers.append(layer)
        shapes.append(layer_shapes)
        layer_dtype = _dtype(layer_config.get("dtype", "float32"), f"{where} dtype")
        if kind == "Dense":
            dtypes.append((where, layer_dtype))
    if not layers:
        raise ValueError("the model has no layers besides its input")
    # The layers with weights decide. Keras's Input and Dropout only cast what
    # passes through (keras.Input stays float32 under a float64 policy): here
    # data goes straight to the model's dtype, within float32 rounding of that.
    dtype = dtypes[0][1] if dtypes else input_dtype or np.dtype("float32")
    for where, layer_dtype in dtypes:
        if layer_dtype != dtype:
            raise ValueError(
                f"{where}: dtype {layer_dtype.name} differs from the model's {dtype.name}; "
                "denseops.nn computes a whole model in one dtype"
            )
    # Keras writes {} (or nothing) for a model never compiled.
    compile_config = config.get("compile_config")
    compile_args = _compile_from_config(compile_config) if compile_config else None
    return Plan(name, input_shape, dtype, layers, shapes, compile_args)


def _batch_shape(value, where):
    """One sample's shape from Keras's ``[None, d1, d2, ...]``, all sizes known."""
    if (
        not isinstance(value, list)
        or len(value) < 2
        or value[0] is not None
        or any(isinstance(d, bool) or not isinstance(d, int) or d < 1 for d in value[1:])
    ):
        raise ValueError(
            f"{where}: input shape {value!r:.100} cannot be expressed by denseops.nn, which "
            "takes (batch, sizes...) inputs of known sizes"
        )
    return tuple(value[1:])


def _input_layer(config, where):
    shape = config.get("batch_shape", config.get("batch_input_shape"))
    config = {k: v for k, v in config.items() if k not in ("batch_shape", "batch_input_shape")}
    dtype = _dtype(config.pop("dtype", "float32"), f"{where} dtype")
    _refuse_settings(
        config, where, {"name": (), "sparse": (False,), "ragged": (False,), "optional": (False,)}
    )
    sample_shape = _batch_shape(shape, where)
    Input(shape=sample_shape, dtype=dtype.name)  # the same checks as a user's Input
    return sample_shape, dtype


# Each reader takes a layer's config and its input sample shape, and returns
# the unbuilt layer, the shapes of its weights (Keras's order) and its output
# sample shape.


def _dense(config, where, shape):
    if len(shape) != 1:
        raise ValueError(
            f"{where}: Dense on samples of shape {shape} cannot be expressed by denseops.nn, "
            "whose Dense takes (batch, features): put a Flatten before it"
        )
    config.pop("build_config", None)
    units = _expect(config.pop("units", None), int, f"{where} units")
    use_bias = _expect(config.pop("use_bias", True), bool, f"{where} use_bias")
    arguments = {
        "activation": _activation(config.pop("activation", "linear"), where),
        "kernel_initializer": _initializer(config.pop("kernel_initializer", None), where),
        "bias_initializer": _initializer(config.pop("bias_initializer", None), where, "zeros"),
        "kernel_regularizer": _regularizer(config.pop("kernel_regularizer", None), where),
        "bias_regularizer": _regularizer(config.pop("bias_regularizer", None), where),
    }
    name = config.get("name")
    policy = _policy_name(config.get("dtype", "float32"), f"{where} dtype")
    _refuse_settings(config, where, _LAYER_NEUTRAL)
    layer = _construct(where, Dense, units, use_bias=use_bias, name=name, dtype=policy,
                       **arguments)  # fmt: skip
    return layer, [(shape[0], units)] + ([(units,)] if use_bias else []), (units,)


def _dropout(config, where, shape):
    rate, seed = config.pop("rate", None), config.pop("seed", None)
    _refuse_settings(config, where, {**_LAYER_NEUTRAL, "noise_shape": (None,)})
    return _construct(where, Dropout, rate, seed=seed, name=config.get("name")), [], shape


def _activation_layer(config, where, shape):
    activation = _activation(config.pop("activation", "linear"), where)
    _refuse_settings(config, where, _LAYER_NEUTRAL)
    return _construct(where, Activation, activation, name=config.get("name")), [], shape


def _flatten(config, where, shape):
    _refuse_settings(config, where, {**_LAYER_NEUTRAL, "data_format": (None, "channels_last")})
    return _construct(where, Flatten, name=config.get("name")), [], (int(np.prod(shape)),)


def _reshape(config, where, shape):
    target = _expect(config.pop("target_shape", None), list, f"{where} target_shape")
    _refuse_settings(config, where, _LAYER_NEUTRAL)
    layer = _construct(where, Reshape, target, name=config.get("name"))
    # Reshape's own check that the sizes fit, on a twin (the model builds the layer).
    out = _construct(where, lambda: Reshape(target).build_shape(shape, np.float32, None))
    return layer, [], tuple(out)


def _construct(where, cls, *args, **kwargs):
    """``cls(*args, **kwargs)``, its TypeError or ValueError naming the layer."""
    try:
        return cls(*args, **kwargs)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{where}: {error}") from None


_LAYER_READERS = {
    "Dense": _dense,
    "Dropout": _dropout,
    "Activation": _activation_layer,
    "Flatten": _flatten,
    "Reshape": _reshape,
}


_KERAS_ACTIVATIONS = {"silu": "swish", "linear": None}


def _activation(value, where):
    name = value
    if isinstance(value, dict):  # a function serialized as an object
        _keras_object(value, f"{where} activation", ("keras.activations",), ("function",))
        name = value.get("config")
    if not isinstance(name, str) or (
        name not in activations._BY_NAME and name not in _KERAS_ACTIVATIONS
    ):
        raise ValueError(
            f"{where}: activation {name!r:.100} cannot be expressed by denseops.nn; "
            f"expected one of {sorted(activations._BY_NAME)}"
        )
    return _KERAS_ACTIVATIONS.get(name, name)


_INITIALIZER_NAMES = {
    (class_name, tuple(sorted(config.items()))): name
    for name, (class_name, config) in _INITIALIZERS.items()
}


def _initializer(value, where, default="glorot_uniform"):
    """The denseops initializer name. A seed only matters when weights are drawn,
    and a loaded model's weights come from the file: it is accepted and dropped."""
    if value is None:
        return default
    if isinstance(value, str) and value in initializers._BY_NAME:
        return value
    classes = {class_name for class_name, _ in _INITIALIZER_NAMES}
    class_name, config = _keras_object(
        value, f"{where} initializer", ("keras.initializers",), classes
    )
    config = {k: v for k, v in config.items() if k not in ("input_axes", "output_axes") or v}
    if "seed" in config:
        config["seed"] = None
    name = _INITIALIZER_NAMES.get((class_name, tuple(sorted(config.items()))))
    if name is None:
        raise ValueError(
            f"{where}: initializer {class_name}({config!r:.100}) cannot be expressed by denseops.nn"
        )
    return name


def _regularizer(value, where):
    if value is None:
        return None
    class_name, config = _keras_object(
        value, f"{where} regularizer", ("keras.regularizers",), regularizers._CLASSES
    )
    try:
        return regularizers.deserialize({"class": class_name, **config})
    except (TypeError, ValueError) as error:
        raise ValueError(f"{where} regularizer: {error}") from None


# Compile settings: what denseops's compile, optimizers and losses take.

_COMPILE_NEUTRAL = {
    "loss_weights": (None,),
    "run_eagerly": (False, True),
    "steps_per_execution": (1,),
    "jit_compile": (False, True, "auto"),
}
_OPTIMIZER_NEUTRAL = {
    "name": (),
    "weight_decay": (None, 0.0, 0),
    "clipnorm": (None,),
    "global_clipnorm": (None,),
    "clipvalue": (None,),
    "use_ema": (False,),
    "ema_momentum": (),
    "ema_overwrite_frequency": (None,),
    "loss_scale_factor": (None,),
    "gradient_accumulation_steps": (None,),
    "amsgrad": (False,),
}


def _compile_from_config(config):
    config = dict(_expect(config, dict, "compile_config"))
    optimizer = _optimizer(config.pop("optimizer", "rmsprop"))
    loss = _loss(config.pop("loss", None))
    lists = {}
    for key in ("metrics", "weighted_metrics"):
        entries = config.pop(key, None) or []
        _expect(entries, list, f"compile_config {key}")
        lists[key] = [_metric(m) for m in entries]
    _refuse_settings(config, "compile_config", _COMPILE_NEUTRAL)
    return {"optimizer": optimizer, "loss": loss, **lists}


def _optimizer(value):
    """(optimizer class, arguments): built once the learning rate variable is read."""
    if isinstance(value, str):
        value = {"module": "keras.optimizers", "class_name": value, "config": {}}
    lookup = {**_OPTIMIZERS, **{cls.name: cls for cls in _OPTIMIZERS.values()}}
    class_name, config = _keras_object(value, "the optimizer", ("keras.optimizers",), lookup)
    cls = lookup[class_name]
    config = dict(config)
    rate = config.get("learning_rate", 0.001)
    if isinstance(rate, dict):
        raise ValueError(
            f"the optimizer's learning rate is a schedule ({rate.get('class_name')!r:.60}); "
            "denseops.nn optimizers take a constant learning rate"
        )
    # The arguments denseops's class takes (it refuses unsupported values
    # itself, with Keras's names: RMSprop's momentum and centered).
    names = inspect.signature(cls).parameters
    arguments = {k: config.pop(k) for k in list(config) if k in names}
    _refuse_settings(config, "the optimizer", _OPTIMIZER_NEUTRAL)
    try:
        cls(**arguments)  # checks now; built again with the stored learning rate
    except (TypeError, ValueError) as error:
        raise ValueError(f"the optimizer: {error}") from None
    return cls, arguments


def _loss(value):
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return losses.get(value)
        except ValueError as error:
            raise ValueError(f"the loss: {error}") from None
    if isinstance(value, dict) and value.get("class_name") == "function":
        _keras_object(value, "the loss", ("keras.losses",), ("function",))
        return _loss(value.get("config"))
    class_name, config = _keras_object(value, "the loss", ("keras.losses",), losses._CLASSES)
    config = dict(config)
    if config.pop("reduction", "sum_over_batch_size") != "sum_over_batch_size":
        raise ValueError("the loss: only reduction='sum_over_batch_size' is supported")
    try:
        return losses.from_config({"class": class_name, **config})
    except (TypeError, ValueError) as error:
        raise ValueError(f"the loss {class_name}: {error}") from None


def _metric(value):
    if isinstance(value, str):
        try:
            metrics.check_identifier(value)
        except ValueError as error:
            raise ValueError(f"a metric: {error}") from None
        return value
    class_name, config = _keras_object(value, "a metric", ("keras.metrics",), _METRICS)
    try:
        return metrics.deserialize({"class": class_name, **config})
    except (TypeError, ValueError) as error:
        raise ValueError(f"the metric {class_name}: {error}") from None
