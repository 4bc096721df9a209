#!/usr/bin/python3
"""Exports torchvision 0.14 classifiers with random weights (fixed seed) to ONNX, plus one input
and PyTorch's output for it, for Vitrine's parity tests and benchmarks.

    /usr/bin/python3 scripts/models/export_torchvision.py OUT_DIR [--models mobilenet_v2,resnet18,...]

Writes OUT_DIR/<model>.onnx, <model>.input.npy (1x3x224x224 float32) and <model>.output.npy.
Needs Debian's python3-torch and python3-torchvision (scripts/bootstrap.sh --models installs them).
"""
import argparse
import os
import sys

import numpy as np
import torch
import torchvision

SEED = 20261128


def export(name, out_dir, opset):
    torch.manual_seed(SEED)
    model = getattr(torchvision.models, name)(weights=None)
    model.eval()
    # BatchNorm running statistics are 0/1 after construction: give them realistic values so that
    # the folding of BatchNorm into convolutions is actually exercised.
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    gen = torch.Generator().manual_seed(SEED + 1)
    x = torch.rand(1, 3, 224, 224, generator=gen) * 2 - 1
    with torch.no_grad():
        y = model(x)
    path = os.path.join(out_dir, name + ".onnx")
    torch.onnx.export(model, x, path, opset_version=opset, input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}}, do_constant_folding=True)
    np.save(os.path.join(out_dir, name + ".input.npy"), x.numpy().astype(np.float32))
    np.save(os.path.join(out_dir, name + ".output.npy"), y.numpy().astype(np.float32))
    print(f"{name}: {os.path.getsize(path) / 1e6:.1f} MB, output {tuple(y.shape)}", file=sys.stderr)


class TinyCnn(torch.nn.Module):
    """A few-kilobyte CNN (conv, batch-norm, ReLU, pooling, dense) for fast robustness tests."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.bn = torch.nn.BatchNorm2d(8)
        self.pool = torch.nn.MaxPool2d(2)
        self.fc = torch.nn.Linear(8, 4)

    def forward(self, x):
        y = self.pool(torch.relu(self.bn(self.conv(x))))
        return torch.softmax(self.fc(torch.flatten(torch.nn.functional.adaptive_avg_pool2d(y, 1), 1)), dim=1)


def export_tiny(out_dir, opset):
    torch.manual_seed(SEED)
    model = TinyCnn().eval()
    with torch.no_grad():
        model.bn.running_mean.uniform_(-0.5, 0.5)
        model.bn.running_var.uniform_(0.5, 1.5)
    x = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(SEED + 2))
    with torch.no_grad():
        y = model(x)
    torch.onnx.export(model, x, os.path.join(out_dir, "tiny_cnn.onnx"), opset_version=opset,
                      input_names=["input"], output_names=["probs"], dynamic_axes={"input": {0: "batch"}})
    np.save(os.path.join(out_dir, "tiny_cnn.input.npy"), x.numpy().astype(np.float32))
    np.save(os.path.join(out_dir, "tiny_cnn.output.npy"), y.numpy().astype(np.float32))
    # The same model with a symbolic image size (loaded with input shapes), and PyTorch's outputs
    # at two sizes.
    torch.onnx.export(model, x, os.path.join(out_dir, "tiny_cnn_any_size.onnx"), opset_version=opset,
                      input_names=["input"], output_names=["probs"],
                      dynamic_axes={"input": {0: "batch", 2: "height", 3: "width"}})
    for h, w in ((20, 24), (33, 17)):
        xs = torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(SEED + h))
        with torch.no_grad():
            ys = model(xs)
        np.save(os.path.join(out_dir, f"tiny_cnn_any_size.{h}x{w}.input.npy"), xs.numpy().astype(np.float32))
        np.save(os.path.join(out_dir, f"tiny_cnn_any_size.{h}x{w}.output.npy"), ys.numpy().astype(np.float32))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out_dir")
    parser.add_argument("--models", default="mobilenet_v2,resnet18,squeezenet1_1,mobilenet_v3_small,efficientnet_b0,regnet_y_400mf,shufflenet_v2_x0_5,mnasnet0_5,densenet121,convnext_tiny")
    parser.add_argument("--opset", type=int, default=13)
    args = parser.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)
    torch.set_num_threads(2)
    for name in args.models.split(","):
        export(name, args.out_dir, args.opset)
    export_tiny(args.out_dir, args.opset)


if __name__ == "__main__":
    main()
