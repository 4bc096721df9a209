#!/usr/bin/python3
"""PyTorch reference runs for Vitrine's trainer: the same models, initial weights, data and optimizer
settings trained for 20 steps; writes initial weights, data, per-step losses and final weights as
.npy into OUT_DIR/train/<case>/.

    /usr/bin/python3 scripts/models/export_train_goldens.py OUT_DIR
"""
import os
import sys

import numpy as np
import torch

SEED = 20261128
STEPS = 20


def write_vitrine_model(path, inputs, nodes, outputs, tensors):
    """A Vitrine model file (engine/include/vitrine/model_file.h): safetensors whose __metadata__
    holds the architecture JSON. inputs: [(name, shape)], nodes: [(op, name, [inputs], attrs)],
    outputs: [value], tensors: {name: array}."""
    import json
    import struct
    arch = {"inputs": [{"name": n, "shape": list(s)} for n, s in inputs],
            "nodes": [{"op": op, "name": name, "inputs": ins, "attrs": attrs} for op, name, ins, attrs in nodes],
            "outputs": [{"value": v, "name": v} for v in outputs]}
    header = {"__metadata__": {"format": "vitrine", "format_version": "1", "architecture": json.dumps(arch)}}
    blobs, offset = [], 0
    for name, value in tensors.items():
        data = np.ascontiguousarray(value, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(np.shape(value)), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header).encode()
    text += b" " * (-(len(text)) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def nhwc(t):
    return t.detach().numpy().transpose(0, 2, 3, 1)


def chw_to_hwc_columns(w, c, h, wd):
    return w.detach().numpy().reshape(-1, c, h, wd).transpose(0, 2, 3, 1).reshape(w.shape[0], -1)


def save(d, **arrays):
    os.makedirs(d, exist_ok=True)
    for k, v in arrays.items():
        np.save(os.path.join(d, k + ".npy"), np.asarray(v, dtype=np.float32))


def mlp_case(out, name, optimizer, label_smoothing=0.0, clip=0.0):
    torch.manual_seed(SEED)
    fc1, fc2 = torch.nn.Linear(5, 7), torch.nn.Linear(7, 3)
    x = torch.randn(8, 5)
    y = torch.randint(0, 3, (8,))
    init = dict(w1=fc1.weight.detach().clone(), b1=fc1.bias.detach().clone(), w2=fc2.weight.detach().clone(),
                b2=fc2.bias.detach().clone())
    params = list(fc1.parameters()) + list(fc2.parameters())
    opt = optimizer(params)
    losses = []
    for _ in range(STEPS):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(fc2(torch.relu(fc1(x))), y, label_smoothing=label_smoothing)
        loss.backward()
        if clip:
            torch.nn.utils.clip_grad_norm_(params, clip)
        opt.step()
        losses.append(loss.item())
    os.makedirs(os.path.join(out, name), exist_ok=True)
    write_vitrine_model(os.path.join(out, name, "model.safetensors"), [("x", (8, 5))],
                        [("dense", "fc1", ["x", "fc1.w", "fc1.b"], {}), ("relu", "relu", ["fc1"], {}),
                         ("dense", "fc2", ["relu", "fc2.w", "fc2.b"], {})], ["fc2"],
                        {"fc1.w": init["w1"], "fc1.b": init["b1"], "fc2.w": init["w2"], "fc2.b": init["b2"]})
    save(os.path.join(out, name), x=x, y=y, losses=losses, **{k: v for k, v in init.items()},
         **{"final_" + k: getattr(m, a).detach() for k, (m, a) in
            dict(w1=(fc1, "weight"), b1=(fc1, "bias"), w2=(fc2, "weight"), b2=(fc2, "bias")).items()})


def mf_case(out):
    torch.manual_seed(SEED)
    users, items, dim, n = 6, 10, 4, 16
    U = torch.nn.Parameter(torch.randn(users, dim) * 0.5)
    V = torch.nn.Parameter(torch.randn(items, dim) * 0.5)
    init_u, init_v = U.detach().clone(), V.detach().clone()
    u = torch.randint(0, users, (n,))
    pos = torch.randint(0, items, (n,))
    neg = torch.randint(0, items, (n,))
    opt = torch.optim.SGD([U, V], lr=0.5, momentum=0.9, weight_decay=0.01)
    losses = []
    for _ in range(STEPS):
        opt.zero_grad()
        sp = (U[u] * V[pos]).mean(1)
        sn = (U[u] * V[neg]).mean(1)
        loss = -torch.nn.functional.logsigmoid(sp - sn).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    os.makedirs(os.path.join(out, "mf_bpr"), exist_ok=True)
    write_vitrine_model(os.path.join(out, "mf_bpr", "model.safetensors"), [("users", (n,)), ("pos", (n,)), ("neg", (n,))],
                        [("embedding", "eu", ["users", "user_embeddings"], {}),
                         ("embedding", "ep", ["pos", "item_embeddings"], {}),
                         ("embedding", "en", ["neg", "item_embeddings"], {}),
                         ("mul", "up", ["eu", "ep"], {}), ("mul", "un", ["eu", "en"], {}),
                         ("reduce_mean", "sp", ["up"], {"axes": [1], "keepdims": 1}),
                         ("reduce_mean", "sn", ["un"], {"axes": [1], "keepdims": 1}),
                         ("concat", "scores", ["sp", "sn"], {"axis": 1})], ["scores"],
                        {"user_embeddings": init_u, "item_embeddings": init_v})
    save(os.path.join(out, "mf_bpr"), users=u, pos=pos, neg=neg, U=init_u, V=init_v, losses=losses,
         final_U=U.detach(), final_V=V.detach())


def cnn_case(out):
    """conv(1->4, 3x3, pad 1) -> relu -> maxpool 2 -> flatten -> linear(64 -> 3), Adam, NCHW in PyTorch
    (the test converts to NHWC and permutes the linear layer's columns)."""
    torch.manual_seed(SEED)
    conv, fc = torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.Linear(64, 3)
    x = torch.randn(6, 1, 8, 8)
    y = torch.randint(0, 3, (6,))
    init = dict(conv_w=conv.weight.detach().clone(), conv_b=conv.bias.detach().clone(), fc_w=fc.weight.detach().clone(),
                fc_b=fc.bias.detach().clone())
    opt = torch.optim.Adam(list(conv.parameters()) + list(fc.parameters()), lr=0.01)
    losses = []
    for _ in range(STEPS):
        opt.zero_grad()
        h = torch.nn.functional.max_pool2d(torch.relu(conv(x)), 2)
        loss = torch.nn.functional.cross_entropy(fc(torch.flatten(h, 1)), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    os.makedirs(os.path.join(out, "cnn_adam"), exist_ok=True)
    write_vitrine_model(os.path.join(out, "cnn_adam", "model.safetensors"), [("x", (6, 8, 8, 1))],
                        [("conv2d", "conv", ["x", "conv.w", "conv.b"], {"pads": [1, 1, 1, 1]}),
                         ("relu", "relu", ["conv"], {}), ("max_pool2d", "pool", ["relu"], {"kernel": [2, 2]}),
                         ("flatten", "flat", ["pool"], {}), ("dense", "fc", ["flat", "fc.w", "fc.b"], {})], ["fc"],
                        {"conv.w": nhwc(init["conv_w"]), "conv.b": init["conv_b"],
                         "fc.w": chw_to_hwc_columns(init["fc_w"], 4, 4, 4), "fc.b": init["fc_b"]})
    save(os.path.join(out, "cnn_adam"), x_nhwc=nhwc(x), y=y)
    save(os.path.join(out, "cnn_adam"), x=x, y=y, losses=losses, **init, final_conv_w=conv.weight.detach(),
         final_conv_b=conv.bias.detach(), final_fc_w=fc.weight.detach(), final_fc_b=fc.bias.detach())


def cnn_bn_case(out):
    """conv(1->4) -> BatchNorm (training mode) -> relu -> maxpool 2 -> flatten -> linear(64 -> 3), Adam;
    checks batch statistics, their gradient and the running statistics' update. The conv has no bias:
    one before BatchNorm gets only round-off gradients, which Adam would amplify differently in
    every implementation."""
    torch.manual_seed(SEED + 1)
    conv, bn, fc = torch.nn.Conv2d(1, 4, 3, padding=1, bias=False), torch.nn.BatchNorm2d(4), torch.nn.Linear(64, 3)
    with torch.no_grad():
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.uniform_(-0.2, 0.2)
    x = torch.randn(6, 1, 8, 8)
    y = torch.randint(0, 3, (6,))
    init = dict(conv_w=conv.weight.detach().clone(), bn_w=bn.weight.detach().clone(),
                bn_b=bn.bias.detach().clone(), fc_w=fc.weight.detach().clone(), fc_b=fc.bias.detach().clone())
    opt = torch.optim.Adam(list(conv.parameters()) + list(bn.parameters()) + list(fc.parameters()), lr=0.01)
    losses = []
    for _ in range(STEPS):
        opt.zero_grad()
        h = torch.nn.functional.max_pool2d(torch.relu(bn(conv(x))), 2)
        loss = torch.nn.functional.cross_entropy(fc(torch.flatten(h, 1)), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    save(os.path.join(out, "cnn_bn_adam"), x=x, y=y, losses=losses, **init, final_bn_w=bn.weight.detach(),
         running_mean=bn.running_mean, running_var=bn.running_var, final_conv_w=conv.weight.detach())


def gru_case(out):
    """ids -> embedding(10, 4) -> GRU(4 -> 5) -> last state -> linear(5 -> 3), Adam."""
    torch.manual_seed(SEED)
    emb, gru, fc = torch.nn.Embedding(10, 4), torch.nn.GRU(4, 5, batch_first=True), torch.nn.Linear(5, 3)
    ids = torch.randint(0, 10, (6, 4))
    y = torch.randint(0, 3, (6,))
    init = dict(emb=emb.weight.detach().clone(), w_ih=gru.weight_ih_l0.detach().clone(),
                w_hh=gru.weight_hh_l0.detach().clone(), b_ih=gru.bias_ih_l0.detach().clone(),
                b_hh=gru.bias_hh_l0.detach().clone(), fc_w=fc.weight.detach().clone(), fc_b=fc.bias.detach().clone())
    params = list(emb.parameters()) + list(gru.parameters()) + list(fc.parameters())
    opt = torch.optim.Adam(params, lr=0.01)
    losses = []
    for _ in range(STEPS):
        opt.zero_grad()
        _, h = gru(emb(ids))
        loss = torch.nn.functional.cross_entropy(fc(h[-1]), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    os.makedirs(os.path.join(out, "gru_adam"), exist_ok=True)
    write_vitrine_model(os.path.join(out, "gru_adam", "model.safetensors"), [("ids", (6, 4))],
                        [("embedding", "lookup", ["ids", "emb"], {}),
                         ("gru", "gru", ["lookup", "gru.w_ih", "gru.w_hh", "gru.b_ih", "gru.b_hh"], {"hidden_size": 5}),
                         ("dense", "fc", ["gru:1", "fc.w", "fc.b"], {})], ["fc"],
                        {"emb": init["emb"], "gru.w_ih": init["w_ih"], "gru.w_hh": init["w_hh"], "gru.b_ih": init["b_ih"],
                         "gru.b_hh": init["b_hh"], "fc.w": init["fc_w"], "fc.b": init["fc_b"]})
    save(os.path.join(out, "gru_adam"), ids=ids, y=y, losses=losses, **init, final_emb=emb.weight.detach(),
         final_w_ih=gru.weight_ih_l0.detach(), final_w_hh=gru.weight_hh_l0.detach(), final_fc_w=fc.weight.detach())


def mlp_onnx(out):
    """A 5 -> 16 -> 3 MLP as ONNX plus a 32-row classification batch, for the native/wasm training check."""
    torch.manual_seed(SEED + 3)
    model = torch.nn.Sequential(torch.nn.Linear(5, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    x = torch.randn(32, 5)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0.5).long()
    d = os.path.join(out, "mlp_onnx")
    os.makedirs(d, exist_ok=True)
    torch.onnx.export(model, x, os.path.join(d, "mlp.onnx"), input_names=["x"], output_names=["logits"],
                      dynamic_axes={"x": {0: "batch"}}, opset_version=13)
    save(d, x=x, y=y)


def main():
    out = os.path.join(sys.argv[1], "train")
    torch.set_num_threads(1)
    mlp_case(out, "mlp_adam", lambda p: torch.optim.Adam(p, lr=0.01))
    mlp_case(out, "mlp_adamw_smooth_clip", lambda p: torch.optim.AdamW(p, lr=0.02, weight_decay=0.1),
             label_smoothing=0.1, clip=0.5)
    mf_case(out)
    cnn_case(out)
    cnn_bn_case(out)
    gru_case(out)
    mlp_onnx(out)


if __name__ == "__main__":
    main()
