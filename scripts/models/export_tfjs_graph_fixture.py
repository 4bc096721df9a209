#!/usr/bin/python3
"""Writes tests/fixtures/tfjs-graph/: a small TensorFlow.js graph model (the tfjs-converter's
"graph-model" format, written here by hand: TensorFlow node names, base64 attribute strings) with
its weights in four encodings, an input and the expected outputs computed here by NumPy:

  x (1, 6, 6, 2) -> _FusedConv2D 3x3 SAME stride 2 (+ BiasAdd, Relu6) -> (1, 3, 3, 4)
    -> DepthwiseConv2dNative 3x3 VALID -> (1, 1, 1, 4) -> Reshape (-1, 4)
    -> _FusedMatMul (+ BiasAdd) -> (1, 3) -> Softmax -> probs
  model.json (float32), model-f16.json (float16), model-u8.json (uint8), model-u16.json (uint16)
  input.npy, expected.npy (float32 weights), expected-q.npy per quantized file
Also the fuzzing seeds of the tfjs_graph harness (scripts/fuzz/make-seeds.py reads these files).
Run: /usr/bin/python3 scripts/models/export_tfjs_graph_fixture.py
"""
import base64
import json
import os

import numpy as np

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures", "tfjs-graph")


def b64(s):
    return base64.b64encode(s.encode()).decode()


def ints(v):
    return {"list": {"i": [str(x) for x in v]}}


def conv2d(x, w, stride, pad):  # x (H, W, C), w (kh, kw, C, O); pad = (top, left, bottom, right)
    x = np.pad(x, ((pad[0], pad[2]), (pad[1], pad[3]), (0, 0)))
    kh, kw, _, o = w.shape
    oh, ow = (x.shape[0] - kh) // stride + 1, (x.shape[1] - kw) // stride + 1
    y = np.zeros((oh, ow, o))
    for i in range(oh):
        for j in range(ow):
            y[i, j] = np.tensordot(x[i * stride:i * stride + kh, j * stride:j * stride + kw], w, axes=3)
    return y


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20261202)
    w1 = rng.standard_normal((3, 3, 2, 4)).astype(np.float32) * 0.5
    b1 = rng.standard_normal(4).astype(np.float32) * 0.1
    dw = rng.standard_normal((3, 3, 4, 1)).astype(np.float32) * 0.5
    w2 = rng.standard_normal((4, 3)).astype(np.float32)
    b2 = rng.standard_normal(3).astype(np.float32) * 0.1
    shape = np.array([-1, 4], np.int32)
    x = rng.uniform(0, 1, (1, 6, 6, 2)).astype(np.float32)
    weights = [("conv/filter", w1), ("conv/bias", b1), ("dw/filter", dw), ("reshape/shape", shape),
               ("dense/kernel", w2), ("dense/bias", b2)]
    nodes = [{"name": "x", "op": "Placeholder", "attr": {"dtype": {"type": "DT_FLOAT"},
                                                         "shape": {"shape": {"dim": [{"size": "-1"}, {"size": "6"}, {"size": "6"}, {"size": "2"}]}}}}]
    for name, v in weights:
        nodes.append({"name": name, "op": "Const", "attr": {"dtype": {"type": "DT_INT32" if v.dtype == np.int32 else "DT_FLOAT"}}})
    nodes += [
        {"name": "conv", "op": "_FusedConv2D", "input": ["x", "conv/filter", "conv/bias"],
         "attr": {"T": {"type": "DT_FLOAT"}, "strides": ints([1, 2, 2, 1]), "padding": {"s": b64("SAME")},
                  "data_format": {"s": b64("NHWC")}, "dilations": ints([1, 1, 1, 1]), "num_args": {"i": "1"},
                  "fused_ops": {"list": {"s": [b64("BiasAdd"), b64("Relu6")]}}, "epsilon": {"f": 0}}},
        {"name": "dw", "op": "DepthwiseConv2dNative", "input": ["conv", "dw/filter"],
         "attr": {"strides": ints([1, 1, 1, 1]), "padding": {"s": b64("VALID")}, "data_format": {"s": b64("NHWC")},
                  "dilations": ints([1, 1, 1, 1])}},
        {"name": "reshape", "op": "Reshape", "input": ["dw", "reshape/shape"], "attr": {"Tshape": {"type": "DT_INT32"}}},
        {"name": "dense", "op": "_FusedMatMul", "input": ["reshape", "dense/kernel", "dense/bias"],
         "attr": {"transpose_a": {"b": False}, "transpose_b": {"b": False}, "num_args": {"i": "1"},
                  "fused_ops": {"list": {"s": [b64("BiasAdd")]}}}},
        {"name": "probs", "op": "Softmax", "input": ["dense"], "attr": {"T": {"type": "DT_FLOAT"}}},
    ]

    def forward(w1, b1, dw, w2, b2):
        y = np.clip(conv2d(x[0].astype(np.float64), w1, 2, (0, 0, 1, 1)) + b1, 0, 6)  # SAME, 6 -> 3: pad 1 bottom/right
        y = conv2d(y, dw[:, :, :, 0][:, :, :, None] * np.eye(4)[None, None], 1, (0, 0, 0, 0))  # depthwise as a diagonal conv
        z = y.reshape(-1, 4) @ w2 + b2
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)

    np.save(os.path.join(OUT, "input.npy"), x)
    for suffix, q in [("", None), ("-f16", "float16"), ("-u8", "uint8"), ("-u16", "uint16")]:
        blob, specs, decoded = b"", [], {}
        for name, v in weights:
            spec = {"name": name, "shape": list(v.shape), "dtype": "int32" if v.dtype == np.int32 else "float32"}
            if q is None or v.dtype == np.int32:
                data, back = v.astype("<i4" if v.dtype == np.int32 else "<f4").tobytes(), v
            elif q == "float16":
                data, back = v.astype("<f2").tobytes(), v.astype(np.float16).astype(np.float32)
                spec["quantization"] = {"dtype": "float16"}
            else:
                levels = 255 if q == "uint8" else 65535
                lo, hi = float(v.min()), float(v.max())
                scale = (hi - lo) / levels
                qv = np.round((v - lo) / scale).astype(np.uint8 if q == "uint8" else "<u2")
                data, back = qv.tobytes(), (qv.astype(np.float64) * scale + lo).astype(np.float32)
                spec["quantization"] = {"dtype": q, "min": lo, "scale": scale}
            blob += data
            specs.append(spec)
            decoded[name] = back
        model = {"format": "graph-model", "generatedBy": "vitrine fixture", "convertedBy": "scripts/models/export_tfjs_graph_fixture.py",
                 "modelTopology": {"node": nodes, "versions": {"producer": 1}},
                 "weightsManifest": [{"paths": [f"weights{suffix}.bin"], "weights": specs}]}
        with open(os.path.join(OUT, f"model{suffix}.json"), "w") as f:
            json.dump(model, f, indent=1)
        with open(os.path.join(OUT, f"weights{suffix}.bin"), "wb") as f:
            f.write(blob)
        expected = forward(*(decoded[n].astype(np.float64) for n in ["conv/filter", "conv/bias", "dw/filter", "dense/kernel", "dense/bias"]))
        np.save(os.path.join(OUT, f"expected{suffix}.npy"), expected)


if __name__ == "__main__":
    main()
