"""ONNX export of a Sequential model's inference graph (``model.export(path, format="onnx")``).

The graph is what ``predict`` computes: per Dense layer ``MatMul`` with the
kernel, ``Add`` of the bias, then the activation (an Activation layer is that
activation alone); Flatten and Reshape are ONNX's Flatten and Reshape; Dropout
is the identity at inference and leaves no node. Input ``input`` is ``(batch,
*sample shape)`` with a dynamic batch, output ``output`` is the last layer's
output, both in the model's dtype (float32 or float64).

Activations are written with the ONNX operators that ONNX Runtime runs in
both float32 and float64 (its CPU provider has no float64 Elu, Selu,
LeakyRelu, Softplus or Erf, nor QuickGelu, into which it fuses swish's usual
form): elu, selu, leaky_relu, softplus and swish are spelled out with
Where/Exp/Log/Div, with their constants in the model's dtype. gelu (Keras's
exact one) needs erf, computed in float32 for a float64 model, so there it
agrees with ``predict`` to float32 rounding. onnx is an optional extra
(denseops[onnx]).
"""

import math

import numpy as np

from denseops.nn import activations
from denseops.nn.keras_config import refuse_mixed_precision
from denseops.nn.layers import Activation, Dense, Dropout, Flatten, Reshape
from denseops.nn.serialization import save_file
from denseops.reference import SELU_ALPHA, SELU_SCALE

DEFAULT_OPSET = 17
# IR version 8 goes with opset 17: ONNX Runtime 1.16 and later load it.
_IR_VERSION = 8


def require_onnx():
    """Imports onnx, or explains which extra brings it."""
    try:
        import onnx
    except ImportError:
        raise ImportError(
            "ONNX export needs the onnx package, which is optional: "
            "pip install 'denseops[onnx]' (or pip install onnx)"
        ) from None
    return onnx


def export_onnx(model, filepath, opset_version=DEFAULT_OPSET):
    """Writes ``model`` (built) to ``filepath`` as an ONNX model, atomically."""
    onnx = require_onnx()
    proto = to_onnx(model, opset_version)
    onnx.checker.check_model(proto)
    data = proto.SerializeToString()
    save_file(filepath, lambda f: f.write(data))


def to_onnx(model, opset_version=DEFAULT_OPSET):
    """The ``onnx.ModelProto`` of a built Sequential model."""
    onnx = require_onnx()
    if not model.built:
        raise ValueError("export() needs a built model: fit it or build(input_shape) first")
    if isinstance(opset_version, bool) or not isinstance(opset_version, int) or opset_version < 13:
        raise ValueError(
            f"opset_version must be an integer >= 13 (Softmax over the last axis). "
            f"Received: opset_version={opset_version!r}"
        )
    graph = _Graph(onnx, model.dtype)
    x = "input"
    for layer in model.layers:
        if type(layer) not in _LAYERS:
            raise ValueError(
                f"Cannot export layer {layer.name!r} of class {type(layer).__name__}: "
                f"the layers with an ONNX translation are {sorted(c.__name__ for c in _LAYERS)}"
            )
        refuse_mixed_precision(layer, "ONNX")
        x = _LAYERS[type(layer)](graph, layer, x)
    graph.node("Identity", [x], "output")
    elem = onnx.helper.np_dtype_to_tensor_dtype(model.dtype)
    input_dims = ["batch", *model.input_shape[1:]]
    output_dims = ["batch", *model.layers[-1].output_shape[1:]]
    proto = onnx.helper.make_model(
        onnx.helper.make_graph(
            graph.nodes,
            model.name,
            [onnx.helper.make_tensor_value_info("input", elem, input_dims)],
            [onnx.helper.make_tensor_value_info("output", elem, output_dims)],
            graph.initializers,
        ),
        opset_imports=[onnx.helper.make_opsetid("", opset_version)],
        producer_name="denseops",
    )
    proto.ir_version = _IR_VERSION
    return proto


class _Graph:
    """Nodes and initializers, with fresh names for intermediate values."""

    def __init__(self, onnx, dtype):
        self.onnx, self.dtype = onnx, np.dtype(dtype)
        self.nodes, self.initializers, self._count = [], [], 0

    def name(self, hint):
        self._count += 1
        return f"{hint}_{self._count}"

    def constant(self, hint, value, dtype=None):
        name = self.name(hint)
        array = np.asarray(value, dtype=dtype or self.dtype)
        self.initializers.append(self.onnx.numpy_helper.from_array(array, name))
        return name

    def node(self, op, inputs, output=None, **attributes):
        output = output or self.name(op.lower())
        self.nodes.append(self.onnx.helper.make_node(op, inputs, [output], **attributes))
        return output


def _dense(graph, layer, x):
    # z (batch, units) = x (batch, input_dim) @ kernel (input_dim, units) + bias (units,)
    z = graph.node("MatMul", [x, graph.constant(f"{layer.name}_kernel", layer.kernel)])
    if layer.use_bias:
        z = graph.node("Add", [z, graph.constant(f"{layer.name}_bias", layer.bias)])
    return _activation(graph, layer, z)


def _reshape(graph, layer, x):
    # 0 keeps the batch size, whatever it is.
    shape = graph.constant(f"{layer.name}_shape", [0, *layer.output_shape[1:]], np.int64)
    return graph.node("Reshape", [x, shape])


_LAYERS = {
    Dense: _dense,
    Dropout: lambda graph, layer, x: x,  # the identity at inference: no node
    Activation: lambda graph, layer, z: _activation(graph, layer, z),
    Flatten: lambda graph, layer, x: graph.node("Flatten", [x], axis=1),
    Reshape: _reshape,
}


def _activation(graph, layer, z):
    activation = layer.activation
    built_in = (activations.ElementwiseActivation, activations.Softmax, activations.Linear)
    if type(activation) not in built_in or activation.name not in _ACTIVATIONS:
        raise ValueError(
            f"Cannot export layer {layer.name!r}: its activation {activation!r} of class "
            f"{type(activation).__name__} is not one of the built-in {sorted(_ACTIVATIONS)}"
        )
    return _ACTIVATIONS[activation.name](graph, z, getattr(activation, "alpha", 0.0))


def _elu(graph, z, alpha, scale=1.0):
    """scale * (z if z > 0 else alpha * (exp(z) - 1)); exp of min(z, 0) cannot overflow."""
    zero, one = graph.constant("zero", 0.0), graph.constant("one", 1.0)
    negative = graph.node("Sub", [graph.node("Exp", [graph.node("Min", [z, zero])]), one])
    negative = graph.node("Mul", [negative, graph.constant("alpha", alpha)])
    y = graph.node("Where", [graph.node("Greater", [z, zero]), z, negative])
    return y if scale == 1.0 else graph.node("Mul", [y, graph.constant("scale", scale)])


def _leaky_relu(graph, z, alpha):
    zero = graph.constant("zero", 0.0)
    negative = graph.node("Mul", [z, graph.constant("alpha", alpha)])
    return graph.node("Where", [graph.node("Greater", [z, zero]), z, negative])


def _softplus(graph, z, alpha):
    """max(z, 0) + log(1 + exp(-|z|)): no overflow for large |z|."""
    tail = graph.node("Exp", [graph.node("Neg", [graph.node("Abs", [z])])])
    tail = graph.node("Log", [graph.node("Add", [tail, graph.constant("one", 1.0)])])
    return graph.node("Add", [graph.node("Relu", [z]), tail])


def _gelu(graph, z, alpha):
    """0.5 * z * (1 + erf(z / sqrt(2))), Keras's exact gelu. ONNX Runtime has
    erf in float32 only: a float64 model takes it there and back."""
    scaled = graph.node("Mul", [z, graph.constant("inv_sqrt2", 1 / math.sqrt(2))])
    if graph.dtype == np.float64:
        scaled = graph.node("Cast", [scaled], to=graph.onnx.TensorProto.FLOAT)
    erf = graph.node("Erf", [scaled])
    if graph.dtype == np.float64:
        erf = graph.node("Cast", [erf], to=graph.onnx.TensorProto.DOUBLE)
    half_z = graph.node("Mul", [z, graph.constant("half", 0.5)])
    return graph.node("Mul", [half_z, graph.node("Add", [erf, graph.constant("one", 1.0)])])


def _swish(graph, z, alpha):
    """z / (1 + exp(-z)), not z * sigmoid(z): ONNX Runtime (1.19 at least) fuses
    the latter into its QuickGelu, which has no float64 kernel. exp(-z) may
    overflow to inf for very negative z, and z / inf is the right limit, 0."""
    tail = graph.node("Exp", [graph.node("Neg", [z])])
    return graph.node("Div", [z, graph.node("Add", [tail, graph.constant("one", 1.0)])])


_ACTIVATIONS = {
    "linear": lambda graph, z, alpha: z,
    "relu": lambda graph, z, alpha: graph.node("Relu", [z]),
    "sigmoid": lambda graph, z, alpha: graph.node("Sigmoid", [z]),
    "tanh": lambda graph, z, alpha: graph.node("Tanh", [z]),
    "softmax": lambda graph, z, alpha: graph.node("Softmax", [z], axis=-1),
    "swish": _swish,
    "elu": _elu,
    "selu": lambda graph, z, alpha: _elu(graph, z, SELU_ALPHA, SELU_SCALE),
    "leaky_relu": _leaky_relu,
    "softplus": _softplus,
    "gelu": _gelu,
}
