#!/usr/bin/python3
"""Golden values from PyTorch for Vitrine's engine-kernel ops (GRU, LSTM, embedding-bag,
layer-norm, log-softmax), written as .npy files into OUT_DIR/goldens/<case>/.

    /usr/bin/python3 scripts/models/export_op_goldens.py OUT_DIR
"""
import os
import sys

import numpy as np
import torch

SEED = 20261128


def save(case_dir, **arrays):
    os.makedirs(case_dir, exist_ok=True)
    for name, value in arrays.items():
        np.save(os.path.join(case_dir, name + ".npy"), np.asarray(value, dtype=np.float32))


def rnn_case(out, name, cls, bidirectional, with_lengths):
    torch.manual_seed(SEED)
    n, t, i, h = 3, 5, 4, 6
    rnn = cls(i, h, batch_first=True, bidirectional=bidirectional)
    x = torch.randn(n, t, i)
    lengths = torch.tensor([5, 2, 4]) if with_lengths else torch.tensor([t] * n)
    packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    with torch.no_grad():
        y, state = rnn(packed)
    y, _ = torch.nn.utils.rnn.pad_packed_sequence(y, batch_first=True, total_length=t)
    h_n = state[0] if isinstance(state, tuple) else state
    d = 2 if bidirectional else 1
    def stack(prefix):
        names = [prefix] + ([prefix + "_reverse"] if bidirectional else [])
        return torch.cat([getattr(rnn, k) for k in names], 0).detach().numpy()
    arrays = dict(x=x.numpy(), w_ih=stack("weight_ih_l0"), w_hh=stack("weight_hh_l0"), b_ih=stack("bias_ih_l0"),
                  b_hh=stack("bias_hh_l0"), lengths=lengths.numpy(), y=y.numpy(),
                  h_n=h_n.permute(1, 0, 2).reshape(n, d * h).numpy())
    if isinstance(state, tuple):
        arrays["c_n"] = state[1].permute(1, 0, 2).reshape(n, d * h).numpy()
    save(os.path.join(out, name), **arrays)


def main():
    out = os.path.join(sys.argv[1], "goldens")
    torch.set_num_threads(1)
    for bi in (False, True):
        for lens in (False, True):
            tag = ("bi" if bi else "uni") + ("_lengths" if lens else "")
            rnn_case(out, "gru_" + tag, torch.nn.GRU, bi, lens)
            rnn_case(out, "lstm_" + tag, torch.nn.LSTM, bi, lens)
    torch.manual_seed(SEED)
    table = torch.randn(10, 4)
    ids = torch.tensor([[1, 2, 3, -1], [4, 4, -1, -1], [9, 0, 5, 7]])
    weights = torch.rand(3, 4)
    for mode in ("mean", "sum"):
        valid = (ids >= 0)
        rows = []
        for b in range(ids.shape[0]):
            sel = ids[b][valid[b]]
            w = weights[b][valid[b]]
            e = table[sel] * w[:, None]
            rows.append(e.sum(0) / w.sum() if mode == "mean" else e.sum(0))
        save(os.path.join(out, "embedding_bag_" + mode), table=table.numpy(), ids=ids.numpy(), weights=weights.numpy(),
             y=torch.stack(rows).numpy())
    x = torch.randn(2, 3, 8)
    ln = torch.nn.LayerNorm(8, eps=1e-5)
    with torch.no_grad():
        ln.weight.uniform_(0.5, 1.5)
        ln.bias.uniform_(-0.5, 0.5)
        save(os.path.join(out, "layer_norm"), x=x.numpy(), gamma=ln.weight.numpy(), beta=ln.bias.numpy(), y=ln(x).numpy())
    z = torch.randn(4, 7) * 30
    save(os.path.join(out, "log_softmax"), x=z.numpy(), y=torch.log_softmax(z, dim=-1).numpy())


if __name__ == "__main__":
    main()
