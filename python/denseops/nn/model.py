"""Sequential: a stack of layers, built, weighed, called, shown and saved.

Training (``trainer.py``), inference (``inference.py``) and the checks of
their data (``input_checks.py``) are mixins, as Keras splits its ``Model``.
"""

import numpy as np

from denseops.nn.exclusive import one_call_lock
from denseops.nn.fused_inference import network_forward, network_steps
from denseops.nn.inference import Inference
from denseops.nn.input_checks import InputChecks
from denseops.nn.layers import (
    InputLayer,
    Layer,
    input_shape_tuple,
    set_weight_list,
)
from denseops.nn.naming import unique_name
from denseops.nn.trainer import Trainer
from denseops.nn.utils import global_generator
from denseops.nn.weights_lock import weights_lock


class Sequential(Trainer, Inference, InputChecks):
    """A linear stack of layers, trained with explicit backpropagation.

    Example:
        >>> from denseops.nn import Sequential, Dense, Input
        >>> model = Sequential([Input(shape=(784,)),
        ...                     Dense(512, activation="relu"),
        ...                     Dense(10, activation="softmax")])
        >>> model.compile(optimizer="rmsprop",
        ...               loss="sparse_categorical_crossentropy",
        ...               metrics=["accuracy"])
        >>> # model.fit(x_train, y_train, epochs=5, batch_size=128)
    """

    def __init__(self, layers=None, trainable=True, name=None):
        if not trainable:
            raise ValueError("Sequential(trainable=False) is not supported: every weight trains")
        self.name = name if name is not None else unique_name("sequential")
        self.layers = []
        self._input_shape = None  # one sample's shape, once declared (Input, input_shape)
        self._input_dtype = None
        self._buffers = {}
        self.optimizer = self.loss = None
        self.metrics = []
        self.weighted_metrics = []
        self.history = None
        self.stop_training = False
        self._fused = False
        for layer in layers or []:
            self.add(layer)

    def add(self, layer):
        """Appends a layer; an ``Input(shape=...)`` may come first to declare the input size."""
        if isinstance(layer, InputLayer):
            if self.layers:
                raise ValueError("Input(shape=...) must be the first element of a Sequential model")
            self._input_shape, self._input_dtype = layer.shape, layer.dtype
            return
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential takes denseops.nn layers. Received: {layer!r}")
        # input_shape counts on the first layer only, as in Keras.
        if not self.layers and self._input_shape is None:
            self._input_shape = layer.declared_input_shape
        if any(other.name == layer.name for other in self.layers):
            raise ValueError(
                "All layers added to a Sequential model should have unique names. Name "
                f"{layer.name!r} is already the name of a layer in this model. Update the "
                "`name` argument to pass a unique name."
            )
        self._check_same_dtype(layer)
        if self.layers and hasattr(layer, "kernel") and layer.dtype != self.dtype:
            # The first layer with a kernel sets the model's dtype; the layers before it
            # (Dropout, BatchNormalization, ...) were built in the default one: build
            # them again in this one (their weights are still the initial ones).
            for other in self.layers:
                if other.built:
                    other.unbuild()
        self.layers.append(layer)
        self._buffers.clear()
        if self._input_shape is not None:
            # A declared input builds the model at once, as in Keras: weights,
            # count_params() and summary() are there before any data.
            try:
                self.build()
            except BaseException:
                self.layers.pop()
                raise

    def _check_same_dtype(self, layer):
        """Refuses a layer whose dtype differs from the model's: a model computes in
        one dtype. Each Dense keeps the dtype it was given (float32 unless said
        otherwise, as in Keras), so none is silently turned into another."""
        if not hasattr(layer, "kernel"):
            return  # Dropout: no weights, takes the model's dtype when built
        for other in self.layers:
            if hasattr(other, "kernel") and other.dtype != layer.dtype:
                raise ValueError(
                    f"Layer {layer.name!r} has dtype "
                    f"{layer.dtype.name} but layer {other.name!r} has {other.dtype.name}: all "
                    f"the Dense layers of a model share one dtype. Pass "
                    f"dtype={other.dtype.name!r} to every Dense (Input's dtype only says what "
                    "the data are; they are cast to the model's dtype)"
                )

    # ------------------------------------------------------------ building

    @property
    def built(self):
        if not self.layers:
            return False
        for layer in self.layers:  # a plain loop: predict asks on every call
            if not layer.built:
                return False
        return True

    @property
    def dtype(self):
        for layer in self.layers:
            if hasattr(layer, "kernel"):  # the first layer with weights decides
                return layer.dtype
        return self.layers[0].dtype

    @property
    def input_dim(self):
        """The number of input features (None while unknown, or for N-D samples)."""
        shape = self._sample_input_shape()
        return shape[0] if shape is not None and len(shape) == 1 else None

    def _sample_input_shape(self):
        if self.built:
            return tuple(self.layers[0].sample_input_shape)
        return self._input_shape

    @property
    def output_dim(self):
        return self.layers[-1].units

    def build(self, input_shape=None, seed=None):
        """Creates every layer's weights.

        Args:
            input_shape: ``(None, features)`` as in Keras, or ``features``;
                default the size given by ``Input`` / ``input_shape``.
            seed: seeds the initializers (and the Dropout masks).
        """
        if not self.layers:
            raise ValueError("Sequential model has no layers; add some before building it")
        if input_shape is None:
            if self._input_shape is None:
                raise ValueError(
                    "build() needs input_shape=(None, features), or an Input(shape=(features,)) "
                    "first in the model"
                )
            shape = self._input_shape
        else:
            shape = input_shape_tuple("input_shape", input_shape)
        rng = global_generator() if seed is None else np.random.default_rng(seed)
        with weights_lock(self).writing("build()"):
            self._build_layers(shape, rng)

    def _build_layers(self, shape, rng):
        """Builds the unbuilt layers in the model's dtype, all or none: a layer
        that cannot be built leaves the model as it was. ``shape`` is one input
        sample's; the model's output samples must be rows of ``units``."""
        dtype = self.dtype
        built_before = [layer.built for layer in self.layers]
        try:
            for layer in self.layers:
                shape = layer.build_shape(tuple(shape), dtype, rng)
        except BaseException:
            for layer, was_built in zip(self.layers, built_before):
                if not was_built:
                    layer.unbuild()
            raise
        self._buffers.clear()

    @property
    def weights(self):
        return [w for layer in self.layers for w in layer.weights]

    @property
    def trainable_weights(self):
        """The arrays the optimizer updates, aligned with ``grads``."""
        return [w for layer in self.layers for w in layer.trainable_weights]

    @property
    def non_trainable_weights(self):
        """The arrays layers update themselves (BatchNormalization's moving statistics)."""
        return [w for layer in self.layers for w in layer.non_trainable_weights]

    @property
    def grads(self):
        return [g for layer in self.layers for g in layer.grads]

    def get_weights(self):
        """Copies of every weight array, layer by layer (Keras's order)."""
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        """Copies arrays of the shapes ``get_weights()`` returns into the model."""
        if not self.built:
            raise ValueError("set_weights() needs a built model: build it or fit it first")
        with weights_lock(self).writing("set_weights()"):
            set_weight_list(f"Model {self.name!r}", self.weights, weights)

    def count_params(self):
        """The number of weights; a ValueError before the model is built, as in Keras."""
        if not self.built:
            raise ValueError(
                f"You tried to call `count_params` on layer '{self.name}', but the layer isn't "
                f"built. You can build it manually via: `{self.name}.build(batch_input_shape)`."
            )
        return sum(layer.count_params() for layer in self.layers)

    # ------------------------------------------------------------ one step

    def _infer(self, x, logits=False, chunk=None):
        """Inference into new arrays: the layers' saved state and buffers, which a
        training step in another thread may be using, are left alone. Call it
        holding the weights lock for reading.

        A stack of Dense layers (with Dropout, and Flatten in front) runs in
        one kernel call (fused_inference.py), ``chunk`` rows at a time through
        the whole network (default: all of ``x`` at once); other models run
        layer by layer, chunk by chunk. Both give the same bits.
        """
        steps = network_steps(self.layers, logits, x.ndim)
        rows = len(x)
        if chunk is None or chunk > rows:
            chunk = rows
        if steps is not None and x.dtype.char in "fd":
            # A leading Flatten: the same view of the rows that Flatten.infer makes
            return network_forward(x.reshape(rows, -1), steps, chunk)
        if chunk == rows:
            return self._infer_layers(x, logits)
        out = np.empty((rows, self.output_dim), self.dtype)
        for first in range(0, rows, chunk):
            out[first : first + chunk] = self._infer_layers(x[first : first + chunk], logits)
        return out

    def _infer_layers(self, x, logits=False):
        """``_infer`` one layer at a time: each layer's ``infer`` on the whole of ``x``."""
        inputs = x
        for layer in self.layers[:-1]:
            x = layer.infer(x)
        x = self.layers[-1].infer(x, return_logits=True) if logits else self.layers[-1].infer(x)
        # A model of identity and reshaping layers would hand back (a view of) the input.
        return x.copy() if np.may_share_memory(x, inputs) else x

    def _forward(self, x, training=False, logits=False):
        for layer in self.layers[:-1]:
            x = layer.forward(x, training=training)
        last = self.layers[-1]
        if logits:
            return last.forward(x, training=training, return_logits=True)
        return last.forward(x, training=training)

    def _buffer(self, key, shape):
        buf = self._buffers.get(key)
        if buf is None or buf.shape != shape:
            buf = self._buffers[key] = np.empty(shape, self.dtype)
        return buf

    def __call__(self, x, training=False):
        """The model's output for a batch ``x``, as ``model(x)`` in Keras.

        ``training=False`` is inference, as safe as ``predict``;
        ``training=True`` runs the training forward pass (Dropout masks) on
        the layers' own state, so it is refused while ``fit`` runs.
        """
        x = self._check_x(x, scan=False)
        if not self.built:
            self.build((None, *x.shape[1:]))
        if not training:
            with weights_lock(self).reading():
                return self._infer(x)
        with one_call_lock(self, "__call__(training=True)"):
            return self._forward(x, training=True).copy()

    # ------------------------------------------------------------ Keras's Sequential API

    def get_layer(self, name=None, index=None):
        """The layer called ``name``, or at ``index``, with Keras's errors."""
        if index is not None:
            if not isinstance(index, int) or isinstance(index, bool):
                raise TypeError(f"index must be an int. Received: index={index!r}")
            if not -len(self.layers) <= index < len(self.layers):
                raise ValueError(
                    f"Was asked to retrieve layer at index {index} but model only has "
                    f"{len(self.layers)} layers."
                )
            return self.layers[index]
        if name is None:
            raise ValueError("Provide either a layer name or layer index at `get_layer`.")
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError(
            f"No such layer: {name}. Existing layers are: {[layer.name for layer in self.layers]}."
        )

    @property
    def input_shape(self):
        """``(None, ...)``; an AttributeError until the input size is known, as in Keras."""
        shape = self._sample_input_shape()
        if shape is None:
            raise AttributeError(f"Sequential model '{self.name}' has no defined input shape yet.")
        return (None, *shape)

    @property
    def output_shape(self):
        """``(None, units)`` of the last layer; an AttributeError while that is unknown."""
        units = self.layers[-1].units if self.layers else None
        if units is None:
            raise AttributeError(f"Sequential model '{self.name}' has no defined output shape yet.")
        return (None, units)

    def pop(self, rebuild=True):
        """Removes and returns the last layer, as Keras's ``Sequential.pop``."""
        if not self.layers:
            raise IndexError(f"Sequential model '{self.name}' has no layers to pop.")
        layer = self.layers.pop()
        self._buffers.clear()
        return layer

    # ------------------------------------------------------------ display and files

    def summary(self, print_fn=print):
        """Prints each layer's output shape and parameter count, then Keras's
        total / trainable / non-trainable lines (non-trainable: BatchNormalization's
        moving statistics)."""
        rows = [
            (
                f"{layer.name} ({type(layer).__name__})",
                str(layer.output_shape) if layer.built else f"(None, {layer.units or '?'})",
                f"{layer.count_params():,}" if layer.built else "0 (unbuilt)",
            )
            for layer in self.layers
        ]
        widths = [
            max(len(h), *(len(r[i]) for r in rows))
            for i, h in enumerate(("Layer (type)", "Output Shape", "Param #"))
        ]
        line = "  ".join(
            h.ljust(w) for h, w in zip(("Layer (type)", "Output Shape", "Param #"), widths)
        )
        print_fn(f'Model: "{self.name}"')
        print_fn(line)
        print_fn("=" * len(line))
        for row in rows:
            print_fn("  ".join(c.ljust(w) for c, w in zip(row, widths)))
        print_fn("=" * len(line))
        total = self.count_params() if self.built else 0
        frozen = sum(w.size for w in self.non_trainable_weights)
        itemsize = self.dtype.itemsize if self.built else 4
        for label, count in (("Total", total), ("Trainable", total - frozen)):
            print_fn(f"{label} params: {count:,} ({_byte_size(count * itemsize)})")
        print_fn(f"Non-trainable params: {frozen:,} ({_byte_size(frozen * itemsize)})")

    # The file format lives in serialization.py, which builds Sequential models
    # when loading and so imports this module: these three methods import it
    # when called, and this module never depends on it at import time.

    def save(self, path):
        """Writes architecture, weights and optimizer state to one file, atomically:
        Keras 3's format for a ``.keras`` name, else a denseops ``.npz``."""
        from denseops.nn.serialization import save_model

        save_model(self, path)

    def save_weights(self, path):
        """Writes only the weights to one file, atomically: Keras 3's HDF5 layout
        for a ``.weights.h5`` name, else a denseops ``.npz``."""
        from denseops.nn.serialization import save_weights

        save_weights(self, path)

    def load_weights(self, path):
        """Reads weights written by ``save_weights`` into this (built) model."""
        from denseops.nn.serialization import load_weights

        with weights_lock(self).writing("load_weights()"):
            load_weights(self, path)

    def export(
        self, filepath, format="tf_saved_model", verbose=None, input_signature=None, **kwargs
    ):
        """Writes the inference graph for serving, as Keras 3's ``export``:
        ``model.export("model.onnx", format="onnx")``.

        Args:
            filepath: where to write (``model.onnx``).
            format: ``"onnx"``, the only format written here; Keras's default,
                ``"tf_saved_model"``, needs TensorFlow and is refused.
            verbose: accepted for Keras compatibility; nothing is printed.
            input_signature: None (the model's input, any batch size).
            **kwargs: ``opset_version`` (default 17).
        """
        from denseops.nn.onnx_export import export_onnx

        if format != "onnx":
            raise ValueError(
                "export() writes format='onnx' only (Keras's other formats need TensorFlow, "
                f"OpenVINO or LiteRT). Received: format={format!r}"
            )
        if input_signature is not None:
            raise ValueError(
                "export() takes input_signature=None only: the ONNX input is the model's "
                f"(batch, features) with a dynamic batch. Received: {input_signature!r}"
            )
        export_onnx(self, filepath, **kwargs)


def _byte_size(count):
    """Keras's summary sizes: 1.55 MB, 0.00 B (powers of 1024)."""
    for unit in ("B", "KB", "MB", "GB"):
        if count < 1024 or unit == "GB":
            return f"{count:.2f} {unit}"
        count /= 1024
    raise AssertionError("unreachable")
