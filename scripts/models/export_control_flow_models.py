#!/usr/bin/python3
"""Writes tests/fixtures/control-flow/: small ONNX models with If (issue 17), the fuzzing seeds of
control flow (scripts/fuzz/make-seeds.py) and fixtures of the importer's branch handling.

  if_runtime.onnx   x (1, 4) -> If(sum(x) > 0): then relu(x) * w (w outer, an If on x's batch size
                    known at import nested inside), else -x
  if_scalar.onnx    x (1, 4), sr () int64 -> If(sr == 16000): then x * 2 unsqueezed and squeezed
                    back (an inner If on a shape), else x + 1
  lstm_state.onnx   x (3, 1, 2), h0 / c0 (1, 1, 3) -> LSTM from that state -> Y, Y_h, Y_c
  slice_steps.onnx  x (5, 4) -> Slice steps (2, -1)
  loop_unrolled.onnx x (1, 2) -> Loop 3 times: y += x (y from 10, 20), the running y scanned
Run: /usr/bin/python3 scripts/models/export_control_flow_models.py
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures", "control-flow")
F = TensorProto.FLOAT


def save(name, graph, opset=13):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="vitrine")
    model.ir_version = 8
    onnx.checker.check_model(model)
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(model.SerializeToString())


def const(name, value):
    return numpy_helper.from_array(np.asarray(value), name)


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20261202)
    # if_runtime: the inner If tests the batch size (a shape, known at import) inside a runtime branch.
    inner_then = helper.make_graph([helper.make_node("Mul", ["rx", "w"], ["it"])], "inner_then", [],
                                   [helper.make_tensor_value_info("it", F, None)])
    inner_else = helper.make_graph([helper.make_node("Neg", ["rx"], ["ie"])], "inner_else", [],
                                   [helper.make_tensor_value_info("ie", F, None)])
    then_g = helper.make_graph(
        [helper.make_node("Shape", ["x"], ["sh"]), helper.make_node("Gather", ["sh", "i0"], ["n"]),
         helper.make_node("Equal", ["n", "i1"], ["b1"]),
         helper.make_node("If", ["b1"], ["t"], then_branch=inner_then, else_branch=inner_else)],
        "then", [], [helper.make_tensor_value_info("t", F, None)],
        initializer=[const("i0", np.int64(0)), const("i1", np.int64(1))])
    else_g = helper.make_graph([helper.make_node("Neg", ["x"], ["e"])], "else", [],
                               [helper.make_tensor_value_info("e", F, None)])
    g = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["rx"]), helper.make_node("ReduceSum", ["x"], ["s"], keepdims=0),
         helper.make_node("Greater", ["s", "zero"], ["c"]),
         helper.make_node("If", ["c"], ["y"], then_branch=then_g, else_branch=else_g)],
        "if_runtime", [helper.make_tensor_value_info("x", F, [1, 4])], [helper.make_tensor_value_info("y", F, [1, 4])],
        initializer=[const("w", rng.standard_normal(4).astype(np.float32)), const("zero", np.float32(0))])
    save("if_runtime.onnx", g)
    # if_scalar: a scalar int64 input picks the branch (as Silero VAD's sample rate does).
    sq_then = helper.make_graph([helper.make_node("Squeeze", ["u", "ax0"], ["sq"])], "sq_then", [],
                                [helper.make_tensor_value_info("sq", F, None)], initializer=[const("ax0", np.array([0], np.int64))])
    sq_else = helper.make_graph([helper.make_node("Identity", ["u"], ["id"])], "sq_else", [],
                                [helper.make_tensor_value_info("id", F, None)])
    then_g = helper.make_graph(
        [helper.make_node("Mul", ["x", "two"], ["m"]), helper.make_node("Unsqueeze", ["m", "ax0"], ["u"]),
         helper.make_node("Shape", ["u"], ["ush"]), helper.make_node("Size", ["ush"], ["rank"]),
         helper.make_node("Equal", ["rank", "three"], ["is3"]),
         helper.make_node("If", ["is3"], ["t"], then_branch=sq_then, else_branch=sq_else)],
        "then", [], [helper.make_tensor_value_info("t", F, None)],
        initializer=[const("two", np.float32(2)), const("ax0", np.array([0], np.int64)), const("three", np.int64(3))])
    else_g = helper.make_graph([helper.make_node("Add", ["x", "one"], ["e"])], "else", [],
                               [helper.make_tensor_value_info("e", F, None)], initializer=[const("one", np.float32(1))])
    g = helper.make_graph(
        [helper.make_node("Equal", ["sr", "k16"], ["c"]),
         helper.make_node("If", ["c"], ["y"], then_branch=then_g, else_branch=else_g)],
        "if_scalar", [helper.make_tensor_value_info("x", F, [1, 4]), helper.make_tensor_value_info("sr", TensorProto.INT64, [])],
        [helper.make_tensor_value_info("y", F, [1, 4])], initializer=[const("k16", np.int64(16000))])
    save("if_scalar.onnx", g)
    # lstm_state: an LSTM that starts from a given state.
    w = rng.standard_normal((1, 12, 2)).astype(np.float32) * 0.5
    r = rng.standard_normal((1, 12, 3)).astype(np.float32) * 0.5
    b = rng.standard_normal((1, 24)).astype(np.float32) * 0.1
    g = helper.make_graph(
        [helper.make_node("LSTM", ["x", "W", "R", "B", "", "h0", "c0"], ["Y", "Y_h", "Y_c"], hidden_size=3)],
        "lstm_state", [helper.make_tensor_value_info("x", F, [3, 1, 2]), helper.make_tensor_value_info("h0", F, [1, 1, 3]),
                       helper.make_tensor_value_info("c0", F, [1, 1, 3])],
        [helper.make_tensor_value_info("Y", F, [3, 1, 1, 3]), helper.make_tensor_value_info("Y_h", F, [1, 1, 3]),
         helper.make_tensor_value_info("Y_c", F, [1, 1, 3])],
        initializer=[const("W", w), const("R", r), const("B", b)])
    save("lstm_state.onnx", g)
    g = helper.make_graph(
        [helper.make_node("Slice", ["x", "starts", "ends", "axes", "steps"], ["y"])],
        "slice_steps", [helper.make_tensor_value_info("x", F, [5, 4])], [helper.make_tensor_value_info("y", F, [3, 4])],
        initializer=[const("starts", np.array([0, -1], np.int64)), const("ends", np.array([5, -(2**63)], np.int64)),
                     const("axes", np.array([0, 1], np.int64)), const("steps", np.array([2, -1], np.int64))])
    save("slice_steps.onnx", g)
    body = helper.make_graph(
        [helper.make_node("Add", ["y_in", "x"], ["y_out"]), helper.make_node("Identity", ["c_in"], ["c_out"]),
         helper.make_node("Identity", ["y_out"], ["scan"])],
        "body", [helper.make_tensor_value_info("i", TensorProto.INT64, []), helper.make_tensor_value_info("c_in", TensorProto.BOOL, []),
                 helper.make_tensor_value_info("y_in", F, [1, 2])],
        [helper.make_tensor_value_info("c_out", TensorProto.BOOL, []), helper.make_tensor_value_info("y_out", F, [1, 2]),
         helper.make_tensor_value_info("scan", F, [1, 2])])
    g = helper.make_graph(
        [helper.make_node("Loop", ["m", "", "y0"], ["y_final", "ys"], body=body)],
        "loop_unrolled", [helper.make_tensor_value_info("x", F, [1, 2])],
        [helper.make_tensor_value_info("y_final", F, [1, 2]), helper.make_tensor_value_info("ys", F, [3, 1, 2])],
        initializer=[const("m", np.int64(3)), const("y0", np.array([[10, 20]], np.float32))])
    save("loop_unrolled.onnx", g)


if __name__ == "__main__":
    main()
