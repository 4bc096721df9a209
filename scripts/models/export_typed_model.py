#!/usr/bin/python3
"""Writes tests/fixtures/typed-model/: a small ONNX text model whose inputs and outputs are not all
float (int64 token ids, a bool keep-mask, an int64 arg max), with outputs computed here by NumPy as
the reference. It exercises typed tensors end to end in the wasm facade (tests/web/models.test.mjs).

  ids  (batch, 5) int64  -> Gather from a (7, 4) embedding table  -> rows (batch, 5, 4)
  keep (batch, 5) bool   -> And(keep, ids != 0)                    -> mask, Where(mask, rows, 0)
  -> ReduceSum over the sequence / count -> MatMul (4, 3) -> logits (batch, 3) f32, ArgMax -> int64
Also tests/fixtures/wide-dtype-model/: f64, f16 and uint64 inputs and outputs (issue 16's dtypes):
  x (2, 3) float64 -> Sqrt(x * x + 1) (Mul and Add in double; Sqrt computed in f32 by the importer)
  h (2, 3) float16 -> Cast to f32, * 2, Cast to f16
  u (2,)   uint64  -> Max(u, 2^62 + 1)
Run: /usr/bin/python3 scripts/models/export_typed_model.py
"""
import json
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures", "typed-model")


def main():
    rng = np.random.default_rng(20261202)
    table = rng.standard_normal((7, 4)).astype(np.float32)
    w = rng.standard_normal((4, 3)).astype(np.float32)
    inits = [numpy_helper.from_array(table, "table"), numpy_helper.from_array(w, "w"),
             numpy_helper.from_array(np.array(0, np.int64), "pad"),
             numpy_helper.from_array(np.zeros((1,), np.float32), "zero"),
             numpy_helper.from_array(np.ones((1,), np.float32), "one")]
    nodes = [
        helper.make_node("Gather", ["table", "ids"], ["rows"], axis=0),
        helper.make_node("Equal", ["ids", "pad"], ["is_pad"]),
        helper.make_node("Not", ["is_pad"], ["not_pad"]),
        helper.make_node("And", ["keep", "not_pad"], ["mask"]),
        helper.make_node("Unsqueeze", ["mask", "axes"], ["mask3"]),
        helper.make_node("Where", ["mask3", "rows", "zero"], ["kept"]),
        helper.make_node("ReduceSum", ["kept", "axes"], ["summed"], keepdims=0),
        helper.make_node("Cast", ["mask"], ["maskf"], to=TensorProto.FLOAT),
        helper.make_node("ReduceSum", ["maskf", "axes"], ["count"], keepdims=1),
        helper.make_node("Max", ["count", "one"], ["safe_count"]),
        helper.make_node("Div", ["summed", "safe_count"], ["mean"]),
        helper.make_node("MatMul", ["mean", "w"], ["logits"]),
        helper.make_node("ArgMax", ["logits"], ["best"], axis=1, keepdims=0),
    ]
    inits.append(numpy_helper.from_array(np.array([2], np.int64), "axes"))
    nodes[6] = helper.make_node("ReduceSum", ["kept", "axes1"], ["summed"], keepdims=0)
    nodes[8] = helper.make_node("ReduceSum", ["maskf", "axes1"], ["count"], keepdims=1)
    inits.append(numpy_helper.from_array(np.array([1], np.int64), "axes1"))
    graph = helper.make_graph(
        nodes, "typed_text",
        [helper.make_tensor_value_info("ids", TensorProto.INT64, [2, 5]),
         helper.make_tensor_value_info("keep", TensorProto.BOOL, [2, 5])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [2, 3]),
         helper.make_tensor_value_info("best", TensorProto.INT64, [2])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model)
    ids = np.array([[1, 5, 0, 6, 2], [3, 0, 0, 4, 4]], np.int64)
    keep = np.array([[True, True, True, False, True], [True, True, False, True, True]])
    mask = keep & (ids != 0)
    rows = table[ids] * mask[..., None]
    mean = rows.sum(1) / np.maximum(mask.sum(1, keepdims=True).astype(np.float32), 1)
    logits = mean @ w
    os.makedirs(OUT, exist_ok=True)
    onnx.save(model, os.path.join(OUT, "model.onnx"))
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump({"ids": ids.tolist(), "keep": keep.astype(int).tolist(), "logits": logits.tolist(),
                   "best": logits.argmax(1).tolist()}, f)
        f.write("\n")


def wide():
    out = os.path.join(os.path.dirname(OUT), "wide-dtype-model")
    big = np.uint64(2**62 + 1)  # (initializers above 2^63 - 1 are refused: the importer holds integer constants as int64)
    inits = [numpy_helper.from_array(np.array([1.0], np.float64), "one"),
             numpy_helper.from_array(np.array([2.0], np.float32), "two"),
             numpy_helper.from_array(np.array([big], np.uint64), "big")]
    nodes = [
        helper.make_node("Mul", ["x", "x"], ["xx"]),
        helper.make_node("Add", ["xx", "one"], ["xx1"]),
        helper.make_node("Sqrt", ["xx1"], ["y"]),
        helper.make_node("Cast", ["h"], ["hf"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["hf", "two"], ["hf2"]),
        helper.make_node("Cast", ["hf2"], ["h2"], to=TensorProto.FLOAT16),
        helper.make_node("Max", ["u", "big"], ["m"]),
    ]
    graph = helper.make_graph(
        nodes, "wide_dtypes",
        [helper.make_tensor_value_info("x", TensorProto.DOUBLE, [2, 3]),
         helper.make_tensor_value_info("h", TensorProto.FLOAT16, [2, 3]),
         helper.make_tensor_value_info("u", TensorProto.UINT64, [2])],
        [helper.make_tensor_value_info("y", TensorProto.DOUBLE, [2, 3]),
         helper.make_tensor_value_info("h2", TensorProto.FLOAT16, [2, 3]),
         helper.make_tensor_value_info("m", TensorProto.UINT64, [2])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model)
    x = np.array([[0.1, -2.5, 1e10], [3.0, 0.0, -7.25]], np.float64)
    h = np.array([[1.5, -0.25, 60000.0], [0.1, -3.0, 2.0]], np.float16)
    u = np.array([5, 2**64 - 1], np.uint64)
    os.makedirs(out, exist_ok=True)
    onnx.save(model, os.path.join(out, "model.onnx"))
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump({"x": x.ravel().tolist(), "h_bits": h.view(np.uint16).ravel().tolist(), "u": [str(v) for v in u],
                   "y": np.sqrt(x * x + 1).ravel().tolist(),
                   "h2_bits": (h.astype(np.float32) * 2).astype(np.float16).view(np.uint16).ravel().tolist(),
                   "m": [str(v) for v in np.maximum(u, big)]}, f)
        f.write("\n")


if __name__ == "__main__":
    main()
    wide()
