#!/usr/bin/python3
"""Exports small PyTorch text classifiers with random weights (fixed seed) to ONNX, with int64
token ids and an int64 attention mask (1 = token, 0 = padding) as inputs, plus PyTorch's outputs
at two sequence lengths, for Vitrine's parity tests and the model corpus (issue 16):

  text_transformer  Embedding + learned positions + nn.TransformerEncoder (2 layers, 4 heads,
                    key padding mask from the attention mask) + masked mean pooling + Linear
  text_gru          Embedding + bidirectional GRU + masked mean pooling + Linear
  text_lstm         Embedding + LSTM + masked mean pooling + Linear

    /usr/bin/python3 scripts/models/export_text_models.py OUT_DIR

Writes OUT_DIR/<model>.onnx and, for each length T in (12, 20), <model>.T<T>.ids.npy,
<model>.T<T>.mask.npy (int64, (2, T); the second row padded) and <model>.T<T>.output.npy.
"""
import os
import sys

import numpy as np
import torch

SEED = 20261202
VOCAB, DIM, CLASSES, MAX_LEN = 500, 32, 3, 64
LENGTHS = (12, 20)


def masked_mean(h, mask):
    m = mask.unsqueeze(-1).to(h.dtype)
    return (h * m).sum(1) / m.sum(1).clamp(min=1.0)


class TransformerText(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(VOCAB, DIM)
        self.pos = torch.nn.Embedding(MAX_LEN, DIM)
        layer = torch.nn.TransformerEncoderLayer(DIM, 4, 64, dropout=0.0, batch_first=True)
        self.encoder = torch.nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.head = torch.nn.Linear(DIM, CLASSES)

    def forward(self, ids, mask):
        positions = torch.arange(ids.shape[1], device=ids.device).unsqueeze(0)
        h = self.embed(ids) + self.pos(positions)
        h = self.encoder(h, src_key_padding_mask=mask == 0)
        return self.head(masked_mean(h, mask))


class RnnText(torch.nn.Module):
    def __init__(self, kind):
        super().__init__()
        self.embed = torch.nn.Embedding(VOCAB, DIM)
        bidirectional = kind == "gru"
        rnn = torch.nn.GRU if kind == "gru" else torch.nn.LSTM
        self.rnn = rnn(DIM, DIM, batch_first=True, bidirectional=bidirectional)
        self.head = torch.nn.Linear(DIM * (2 if bidirectional else 1), CLASSES)

    def forward(self, ids, mask):
        h, _ = self.rnn(self.embed(ids))
        return self.head(masked_mean(h, mask))


def inputs(length):
    gen = torch.Generator().manual_seed(SEED + length)
    ids = torch.randint(1, VOCAB, (2, length), generator=gen)
    mask = torch.ones(2, length, dtype=torch.int64)
    mask[1, length // 2:] = 0
    ids[1, length // 2:] = 0
    return ids, mask


def export(name, model, out_dir):
    torch.manual_seed(SEED)
    # Train mode (every dropout is 0, there is no batch norm: the same function) keeps PyTorch off
    # the fused encoder-layer kernel, which has no ONNX export.
    model.train()
    path = os.path.join(out_dir, name + ".onnx")
    ids, mask = inputs(LENGTHS[0])
    torch.onnx.export(model, (ids, mask), path, opset_version=14, input_names=["ids", "mask"], output_names=["logits"],
                      dynamic_axes={"ids": {0: "batch", 1: "length"}, "mask": {0: "batch", 1: "length"},
                                    "logits": {0: "batch"}}, do_constant_folding=True,
                      training=torch.onnx.TrainingMode.PRESERVE)
    with torch.no_grad():
        for length in LENGTHS:
            ids, mask = inputs(length)
            y = model(ids, mask)
            np.save(os.path.join(out_dir, f"{name}.T{length}.ids.npy"), ids.numpy())
            np.save(os.path.join(out_dir, f"{name}.T{length}.mask.npy"), mask.numpy())
            np.save(os.path.join(out_dir, f"{name}.T{length}.output.npy"), y.numpy().astype(np.float32))
    print(f"{name}: {os.path.getsize(path) / 1e6:.2f} MB", file=sys.stderr)


def main():
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    for name, build in (("text_transformer", TransformerText), ("text_gru", lambda: RnnText("gru")),
                        ("text_lstm", lambda: RnnText("lstm"))):
        torch.manual_seed(SEED)
        export(name, build(), out_dir)


if __name__ == "__main__":
    main()
