"""Vitrine model files from Python: a safetensors file (8-byte little-endian header length, a JSON
header, raw little-endian tensors) laid out as the engine writes it (engine/src/io/model_file.cc,
write_safetensors in safetensors.cc):

  header   {"__metadata__": {architecture, format: "vitrine", format_version: "1", ...},
            "<tensor>": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ...}
           tensors in graph order, tiled without gaps; the header padded with spaces to a
           multiple of 8 bytes so the data starts 8-byte aligned.
  architecture  {"inputs": [{"name", "shape"}], "nodes": [{"op", "name", "inputs", "attrs"}],
                 "outputs": [{"value", "name"}]}; a node input that names a tensor is a constant.

The recommender graphs are those of saved_model() in engine/src/tasks/recommend_train.cc. A dense
node computes y = x · Wᵀ + b with W stored (out, in): torch.nn.Linear's own weight layout.
"""
import json
import struct

import numpy as np

FORMAT_VERSION = 1


def _dumps(value):
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def write_model(path, tensors, architecture, metadata):
    """Writes `tensors` [(name, array)] as F32 with the graph `architecture` (a dict) and the
    string entries of `metadata` (dicts are stored as JSON text). Returns the file size."""
    meta = {k: v if isinstance(v, str) else _dumps(v) for k, v in metadata.items()}
    meta["architecture"] = _dumps(architecture)
    meta.setdefault("format", "vitrine")
    meta.setdefault("format_version", str(FORMAT_VERSION))
    header = {"__metadata__": dict(sorted(meta.items()))}  # the engine keeps them in a std::map
    blobs, offset = [], 0
    for name, array in tensors:
        a = np.ascontiguousarray(array, dtype="<f4")
        if not np.isfinite(a).all():
            raise ValueError(f"tensor '{name}' holds a non-finite value")
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        blobs.append(a.tobytes())
        offset += a.nbytes
    text = _dumps(header).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)
    return 8 + len(text) + offset


def read_model(path):
    """(tensors {name: float32 array}, metadata {key: str}) of a Vitrine model file (F32/F16)."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    metadata = header.pop("__metadata__", {})
    tensors = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        dtype = {"F32": "<f4", "F16": "<f2"}[info["dtype"]]
        raw = np.frombuffer(data, dtype=dtype, count=(end - begin) // np.dtype(dtype).itemsize, offset=8 + n + begin)
        tensors[name] = raw.astype(np.float32).reshape(info["shape"])
    return tensors, metadata


def dense_node(name, x, weight, bias):
    return {"op": "dense", "name": name, "inputs": [x, weight, bias], "attrs": {}}


def mult_dae_model(enc_w, enc_b, dec_w, dec_b):
    """x (1, I) (the L2-normalized history) -> enc -> tanh -> dec -> scores (1, I).
    enc_w (H, I), enc_b (H), dec_w (I, H), dec_b (I). Returns (tensors, architecture)."""
    n = dec_w.shape[0]
    architecture = {
        "inputs": [{"name": "x", "shape": [1, n]}],
        "nodes": [dense_node("enc", "x", "enc.w", "enc.b"),
                  {"op": "tanh", "name": "h", "inputs": ["enc"], "attrs": {}},
                  dense_node("dec", "h", "dec.w", "dec.b")],
        "outputs": [{"value": "dec", "name": "scores"}],
    }
    return [("enc.w", enc_w), ("enc.b", enc_b), ("dec.w", dec_w), ("dec.b", dec_b)], architecture


def mf_bpr_model(item_emb, user_mean):
    """user (1, D) -> dense(item.emb, item.bias = 0) -> scores (1, I). item_emb (I, D) is already
    divided by D (training scores are means over the factors; the file's are dot products);
    user_mean (D) is the training users' mean factor vector (an empty history's user), read by an
    identity node into a second output, "user_mean", as the engine saves it."""
    n, d = item_emb.shape
    architecture = {
        "inputs": [{"name": "user", "shape": [1, d]}],
        "nodes": [dense_node("scores_dense", "user", "item.emb", "item.bias"),
                  {"op": "identity", "name": "user_mean", "inputs": ["user.mean"], "attrs": {}}],
        "outputs": [{"value": "scores_dense", "name": "scores"}, {"value": "user_mean", "name": "user_mean"}],
    }
    return [("user.mean", user_mean), ("item.emb", item_emb), ("item.bias", np.zeros(n, np.float32))], architecture


def gru4rec_model(item_emb, w_ih, w_hh, b_ih, b_hh, out_w, out_b, max_length):
    """items (1, T) -> embedding -> GRU (gates [r, z, n], linear_before_reset = 1: torch.nn.GRU's
    own formulas and layout) -> the final state -> dense -> scores (1, I). item_emb (I, E),
    w_ih (3H, E), w_hh (3H, H), b_ih and b_hh (3H), out_w (I, H), out_b (I)."""
    hidden = w_hh.shape[1]
    architecture = {
        "inputs": [{"name": "items", "shape": [1, max_length]}],
        "nodes": [{"op": "embedding", "name": "x", "inputs": ["items", "item.emb"], "attrs": {}},
                  {"op": "gru", "name": "gru", "inputs": ["x", "gru.w_ih", "gru.w_hh", "gru.b_ih", "gru.b_hh"],
                   "attrs": {"hidden_size": hidden, "linear_before_reset": 1}},
                  dense_node("out", "gru:1", "out.w", "out.b")],
        "outputs": [{"value": "out", "name": "scores"}],
    }
    tensors = [("item.emb", item_emb), ("gru.w_ih", w_ih), ("gru.w_hh", w_hh), ("gru.b_ih", b_ih), ("gru.b_hh", b_hh),
               ("out.w", out_w), ("out.b", out_b)]
    return tensors, architecture
