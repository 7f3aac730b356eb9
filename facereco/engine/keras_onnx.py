"""A small Keras-HDF5 to ONNX converter for the layer set of a Keras MobileNetV2 classifier.

Reads the model's ``model_config`` JSON and weights with ``h5py`` and emits an ONNX graph
with ``onnx.helper``, so the mask model runs without Keras or a deep-learning framework.
BatchNormalization is folded into the convolution before it (inference only: moving
statistics), ReLU(max 6) becomes Clip, Dropout disappears. A layer it does not know
raises ``UnsupportedLayer`` rather than producing a different network.

The graph takes NCHW float32 input (what ``cv2.dnn.blobFromImages`` and numpy give us
after one transpose) and keeps the Keras output as it is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

OPSET = 17
INPUT_NAME = "input"


class UnsupportedLayer(ValueError):
    """The Keras model uses a layer (or an option of one) this converter does not translate."""


@dataclass
class _Graph:
    """The nodes and initialisers emitted so far, and what each Keras layer's output is called."""

    nodes: list[Any] = field(default_factory=list)
    initializers: list[Any] = field(default_factory=list)
    consumers: dict[str, int] = field(default_factory=dict)

    def constant(self, name: str, value: np.ndarray) -> str:
        from onnx import numpy_helper

        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def node(self, op: str, inputs: list[str], output: str, **attributes: Any) -> str:
        from onnx import helper

        self.nodes.append(helper.make_node(op, inputs, [output], name=output, **attributes))
        return output


def _layer_weights(h5: Any, layer: str) -> dict[str, np.ndarray]:
    """A layer's weights by short name (kernel, bias, gamma, ...), read from ``model_weights``."""
    group = h5["model_weights"][layer]
    names = [n.decode() if isinstance(n, bytes) else n for n in group.attrs.get("weight_names", [])]
    return {name.rsplit("/", 1)[-1].split(":")[0]: np.asarray(group[name], np.float32) for name in names}


def _inbound(layer: dict[str, Any]) -> list[str]:
    nodes = layer.get("inbound_nodes") or []
    if len(nodes) != 1:
        raise UnsupportedLayer(f"layer {layer['name']} is shared or has no input ({len(nodes)} inbound nodes)")
    return [entry[0] for entry in nodes[0]]


def _conv_pads(config: dict[str, Any], kernel: tuple[int, int]) -> list[int]:
    strides = tuple(config.get("strides", (1, 1)))
    if tuple(config.get("dilation_rate", (1, 1))) != (1, 1):
        raise UnsupportedLayer(f"{config['name']}: dilated convolution")
    if config["padding"] == "valid":
        return [0, 0, 0, 0]
    if config["padding"] == "same" and strides == (1, 1) and all(k % 2 == 1 for k in kernel):
        half = [(k - 1) // 2 for k in kernel]
        return [half[0], half[1], half[0], half[1]]
    raise UnsupportedLayer(f"{config['name']}: padding {config['padding']!r} with strides {strides}")


def _activation(graph: _Graph, name: str, value: str, activation: str) -> str:
    if activation == "linear":
        return value
    if activation == "relu":
        return graph.node("Relu", [value], name)
    if activation == "softmax":
        return graph.node("Softmax", [value], name, axis=-1)
    raise UnsupportedLayer(f"activation {activation!r}")


def _conv(graph: _Graph, layer: dict[str, Any], weights: dict[str, np.ndarray], source: str) -> tuple[str, str, str]:
    """A Conv node whose weight and bias are initialisers (named so BatchNorm can fold into them)."""
    config = layer["config"]
    name = layer["name"]
    if config.get("data_format", "channels_last") != "channels_last":
        raise UnsupportedLayer(f"{name}: data_format {config['data_format']}")
    if layer["class_name"] == "DepthwiseConv2D":
        kernel = weights["depthwise_kernel"]  # kh, kw, in, multiplier
        kh, kw, channels, multiplier = kernel.shape
        weight = kernel.transpose(2, 3, 0, 1).reshape(channels * multiplier, 1, kh, kw)
        group = channels
    else:
        kernel = weights["kernel"]  # kh, kw, in, out
        kh, kw = kernel.shape[:2]
        weight = kernel.transpose(3, 2, 0, 1)
        group = 1
    bias = weights.get("bias", np.zeros(weight.shape[0], np.float32))
    w_name, b_name = graph.constant(f"{name}/W", weight), graph.constant(f"{name}/B", bias)
    conv = graph.node(
        "Conv",
        [source, w_name, b_name],
        f"{name}/conv",
        kernel_shape=[kh, kw],
        strides=list(config.get("strides", (1, 1))),
        pads=_conv_pads(config, (kh, kw)),
        group=group,
    )
    return conv, w_name, b_name


def _fold_batch_norm(graph: _Graph, weights: dict[str, np.ndarray], epsilon: float, w_name: str, b_name: str) -> None:
    """Scale the convolution's weight and bias by the BatchNorm (inference: y = (x - mean) * gamma / std + beta)."""
    tensors = {t.name: t for t in graph.initializers}
    from onnx import numpy_helper

    weight, bias = numpy_helper.to_array(tensors[w_name]), numpy_helper.to_array(tensors[b_name])
    scale = weights.get("gamma", 1.0) / np.sqrt(weights["moving_variance"] + epsilon)
    folded_w = (weight.astype(np.float64) * scale.reshape(-1, 1, 1, 1)).astype(np.float32)
    folded_b = ((bias - weights["moving_mean"]) * scale + weights.get("beta", 0.0)).astype(np.float32)
    for name, value in ((w_name, folded_w), (b_name, folded_b)):
        tensors[name].CopyFrom(numpy_helper.from_array(value, name))


def convert(h5_path: str | Path, input_size: int = 224) -> bytes:
    """The ONNX model (serialised) equivalent to a Keras functional model saved as HDF5."""
    import h5py
    from onnx import TensorProto, checker, helper

    with h5py.File(h5_path, "r") as h5:
        raw = h5.attrs["model_config"]
        config = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
        layers = config["config"]["layers"]
        graph = _Graph()
        outputs: dict[str, str] = {}  # Keras layer name -> ONNX value name
        conv_params: dict[str, tuple[str, str]] = {}  # ONNX conv output -> its weight/bias initialisers
        folded: set[str] = set()  # Keras convolutions whose BatchNormalization is folded into them
        for layer in layers:
            inbound = _inbound(layer) if layer["class_name"] != "InputLayer" else []
            if folded.intersection(inbound):
                raise UnsupportedLayer(f"{layer['name']} reads a convolution whose BatchNormalization was folded")
            outputs[layer["name"]] = _emit(graph, layer, h5, outputs, conv_params)
            if layer["class_name"] == "BatchNormalization":
                folded.add(inbound[0])
        final = config["config"]["output_layers"][0][0]
    model_graph = helper.make_graph(
        graph.nodes,
        "keras_model",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["N", 3, input_size, input_size])],
        [helper.make_tensor_value_info(outputs[final], TensorProto.FLOAT, ["N", "classes"])],
        graph.initializers,
    )
    model = helper.make_model(model_graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="facereco")
    model.ir_version = 8
    checker.check_model(model)
    return model.SerializeToString()


def _emit(
    graph: _Graph,
    layer: dict[str, Any],
    h5: Any,
    outputs: dict[str, str],
    conv_params: dict[str, tuple[str, str]],
) -> str:
    """Emit one Keras layer; returns the ONNX name of its output."""
    kind, name, config = layer["class_name"], layer["name"], layer["config"]
    if kind == "InputLayer":
        return INPUT_NAME
    sources = [outputs[s] for s in _inbound(layer)]
    source = sources[0]
    if kind != "BatchNormalization":
        for used in sources:  # a convolution read as it is can no longer take a BatchNormalization in
            conv_params.pop(used, None)
    if kind in ("Conv2D", "DepthwiseConv2D"):
        conv, w_name, b_name = _conv(graph, layer, _layer_weights(h5, name), source)
        conv_params[conv] = (w_name, b_name)
        return _activation(graph, name, conv, config.get("activation", "linear"))
    if kind == "BatchNormalization":
        if source not in conv_params:
            raise UnsupportedLayer(f"{name}: BatchNormalization not directly after a convolution")
        _fold_batch_norm(graph, _layer_weights(h5, name), float(config["epsilon"]), *conv_params.pop(source))
        return source
    if kind == "ReLU":
        if config.get("negative_slope", 0.0) or config.get("threshold", 0.0):
            raise UnsupportedLayer(f"{name}: leaky or thresholded ReLU")
        if config.get("max_value") is None:
            return graph.node("Relu", [source], name)
        low = graph.constant(f"{name}/min", np.array(0.0, np.float32))
        high = graph.constant(f"{name}/max", np.array(config["max_value"], np.float32))
        return graph.node("Clip", [source, low, high], name)
    if kind == "ZeroPadding2D":
        (top, bottom), (left, right) = config["padding"]
        pads = graph.constant(f"{name}/pads", np.array([0, 0, top, left, 0, 0, bottom, right], np.int64))
        return graph.node("Pad", [source, pads], name)
    if kind == "Add":
        return graph.node("Add", sources, name)
    if kind in ("AveragePooling2D", "MaxPooling2D"):
        if config["padding"] != "valid":
            raise UnsupportedLayer(f"{name}: pooling padding {config['padding']!r}")
        op = "AveragePool" if kind == "AveragePooling2D" else "MaxPool"
        return graph.node(op, [source], name, kernel_shape=list(config["pool_size"]), strides=list(config["strides"]))
    if kind == "GlobalAveragePooling2D":
        pooled = graph.node("GlobalAveragePool", [source], f"{name}/pool")
        return graph.node("Flatten", [pooled], name, axis=1)
    if kind == "Flatten":
        # Keras flattens channels-last: go back to NHWC first so the Dense weights line up.
        nhwc = graph.node("Transpose", [source], f"{name}/nhwc", perm=[0, 2, 3, 1])
        return graph.node("Flatten", [nhwc], name, axis=1)
    if kind == "Dense":
        weights = _layer_weights(h5, name)
        kernel = graph.constant(f"{name}/W", weights["kernel"])
        bias = graph.constant(f"{name}/B", weights.get("bias", np.zeros(weights["kernel"].shape[1], np.float32)))
        dense = graph.node("Gemm", [source, kernel, bias], f"{name}/gemm")
        return _activation(graph, name, dense, config.get("activation", "linear"))
    if kind == "Dropout":
        return source  # inference: identity
    raise UnsupportedLayer(f"{name}: layer type {kind}")
