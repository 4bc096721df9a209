// ONNX import, recurrent layers: LSTM and GRU.
// (The importer: onnx_importer.h; its driver and op table: onnx_import.cc.)
#include "onnx_importer.h"

namespace vitrine::onnx_importer {

void Importer::register_rnn_ops(HandlerTable* table) {
  table->insert({
      {"LSTM", &Importer::rnn},
      {"GRU", &Importer::rnn},
  });
}

// LSTM / GRU: ONNX's (T, N, I) layout, stacked gates in ONNX order and [Wb, Rb] biases are mapped
// onto the engine's batch-first op with PyTorch gate order; outputs are mapped back.
Status Importer::rnn(const NodeProto& n) {
  const bool lstm = n.op_type == "LSTM";
  const int64_t gates = lstm ? 4 : 3;
  const int64_t hs = attr_i(n, "hidden_size", 0);
  if (hs < 1) return err(n, "hidden_size is required");
  const std::string direction = attr_s(n, "direction", "forward");
  if (direction != "forward" && direction != "reverse" && direction != "bidirectional") {
    return err(n, "unknown direction '" + direction + "'");
  }
  const int64_t dirs = direction == "bidirectional" ? 2 : 1;
  if (onnx::find_attribute(n, "clip")) return unsupported(n, "clip");
  if (attr_i(n, "input_forget", 0)) return unsupported(n, "input_forget = 1");
  if (const AttributeProto* acts = onnx::find_attribute(n, "activations")) {
    const std::vector<std::string> standard = lstm ? std::vector<std::string>{"Sigmoid", "Tanh", "Tanh"}
                                                   : std::vector<std::string>{"Sigmoid", "Tanh"};
    for (size_t i = 0; i < acts->strings.size(); ++i)
      if (acts->strings[i] != standard[i % standard.size()]) return unsupported(n, "activation " + acts->strings[i]);
  }
  if (has_input(n, 7)) return unsupported(n, "peephole weights");
  // Initial states (D, N, H) that are not constant zeros become inputs of the op.
  bool given_state[2] = {false, false};
  for (size_t i : {5u, 6u}) {
    if (!has_input(n, i) || (i == 6 && !lstm)) continue;
    const Const* c = constant(n.input[i]);
    bool zero = c && !c->is_int;
    for (float v : zero ? c->f : std::vector<float>{}) zero = zero && v == 0.0f;
    given_state[i - 5] = !zero;
  }
  const int64_t layout = attr_i(n, "layout", 0);
  Result<Act> xa = act(n, 0);
  if (!xa.ok()) return xa.status();
  const Shape xs = graph_->value(xa->id).shape;
  if (xs.rank() != 3) return err(n, "X must be 3-D, got " + xs.to_string());
  int x = xa->id;
  if (layout == 0) {
    Result<int> t = permute(x, {1, 0, 2}, "rnn_x");
    if (!t.ok()) return t.status();
    x = t.value();
  }
  const int64_t isz = xs[2];
  const Const* w = has_input(n, 1) ? constant(n.input[1]) : nullptr;
  const Const* r = has_input(n, 2) ? constant(n.input[2]) : nullptr;
  const Const* b = has_input(n, 3) ? constant(n.input[3]) : nullptr;
  if (!w || !r || w->is_int || r->is_int || (b && b->is_int)) return unsupported(n, "W, R and B must be float constants");
  if (hs > default_limits().max_tensor_elements) {
    return Status::ResourceExhausted("ONNX " + n.op_type + " '" + n.output[0] + "': hidden_size " + std::to_string(hs) +
                                     " exceeds the limit of " + std::to_string(default_limits().max_tensor_elements) +
                                     " (Limits::max_tensor_elements)");
  }
  int64_t rows = 0, w_count = 0, r_count = 0, b_count = 0;
  if (!checked_mul(dirs * gates, hs, &rows) || !checked_mul(rows, isz, &w_count) ||
      !checked_mul(rows, hs, &r_count) || !checked_mul(rows, 2, &b_count)) {
    return Status::ResourceExhausted("ONNX " + n.op_type + " '" + n.output[0] + "': the weight element count for hidden_size " +
                                     std::to_string(hs) + " overflows int64");
  }
  if (w->count() != w_count || r->count() != r_count || (b && b->count() != b_count)) {
    return err(n, "W, R or B has the wrong number of values for hidden_size " + std::to_string(hs) + " (W needs " +
                      std::to_string(w_count) + ", R " + std::to_string(r_count) + ", B " + std::to_string(b_count) + ")");
  }
  // ONNX gate blocks -> PyTorch order: LSTM [i, o, f, c] -> [i, f, c, o]; GRU [z, r, h] -> [r, z, h].
  const std::vector<int64_t> from = lstm ? std::vector<int64_t>{0, 2, 3, 1} : std::vector<int64_t>{1, 0, 2};
  auto regate = [&](const float* src, int64_t cols, std::vector<float>* dst) {
    for (int64_t d = 0; d < dirs; ++d)
      for (int64_t g = 0; g < gates; ++g)
        for (int64_t j = 0; j < hs; ++j)
          for (int64_t k = 0; k < cols; ++k)
            dst->push_back(src[((d * gates + from[static_cast<size_t>(g)]) * hs + j) * cols + k]);
  };
  std::vector<float> wih, whh, bih, bhh;
  regate(w->f.data(), isz, &wih);
  regate(r->f.data(), hs, &whh);
  std::vector<float> wb(static_cast<size_t>(dirs * gates * hs), 0.0f), rb = wb;
  if (b) {
    for (int64_t d = 0; d < dirs; ++d)
      for (int64_t k = 0; k < gates * hs; ++k) {
        wb[static_cast<size_t>(d * gates * hs + k)] = b->f[static_cast<size_t>(d * 2 * gates * hs + k)];
        rb[static_cast<size_t>(d * gates * hs + k)] = b->f[static_cast<size_t>(d * 2 * gates * hs + gates * hs + k)];
      }
  }
  regate(wb.data(), 1, &bih);
  regate(rb.data(), 1, &bhh);
  std::vector<int> inputs = {x};
  const std::vector<std::pair<const std::vector<float>*, Shape>> params = {
      {&wih, Shape{rows, isz}}, {&whh, Shape{rows, hs}}, {&bih, Shape{rows}}, {&bhh, Shape{rows}}};
  for (const auto& [vec, shape] : params) {
    Result<Tensor> t = Tensor::from_values(shape, vec->data(), vec->size());
    if (!t.ok()) return t.status();
    Result<int> id = graph_->add_constant(fresh(n.op_type + "_w"), t.value());
    if (!id.ok()) return id.status();
    inputs.push_back(id.value());
  }
  const int64_t batch = xs[layout == 0 ? 1 : 0], steps = xs[layout == 0 ? 0 : 1];
  const bool with_state = given_state[0] || given_state[1];
  if (has_input(n, 4) || with_state) {  // the op takes initial states after lengths
    const Const* lens = has_input(n, 4) ? constant(n.input[4]) : nullptr;
    if (has_input(n, 4) && (!lens || !lens->is_int)) return unsupported(n, "sequence_lens must be a constant");
    std::vector<float> f = lens ? std::vector<float>(lens->i.begin(), lens->i.end())
                                : std::vector<float>(static_cast<size_t>(batch), static_cast<float>(steps));
    Result<Tensor> t = Tensor::from_values(Shape{static_cast<int64_t>(f.size())}, f.data(), f.size());
    if (!t.ok()) return t.status();
    Result<int> id = graph_->add_constant(fresh("sequence_lens"), t.value());
    if (!id.ok()) return id.status();
    inputs.push_back(id.value());
  }
  for (size_t k = 0; with_state && k < (lstm ? 2u : 1u); ++k) {  // (D, N, H) -> (N, D·H)
    int v = -1;
    if (given_state[k]) {
      Result<Act> s = act(n, 5 + k);
      if (!s.ok()) return s.status();
      if (graph_->value(s->id).shape != Shape{dirs, batch, hs}) {
        return err(n, std::string(k == 0 ? "initial_h" : "initial_c") + " must be " + Shape{dirs, batch, hs}.to_string() +
                          ", got " + graph_->value(s->id).shape.to_string());
      }
      if (graph_->value(s->id).dtype != DType::kF32) return unsupported(n, "initial states other than float32");
      Result<int> t = permute(s->id, {1, 0, 2}, "rnn_state0");
      if (!t.ok()) return t.status();
      Result<int> r = reshape_to(t.value(), {batch, dirs * hs}, "rnn_state0");
      if (!r.ok()) return r.status();
      v = r.value();
    } else {
      Result<Tensor> z = Tensor::zeros(Shape{batch, dirs * hs});
      if (!z.ok()) return z.status();
      Result<int> id = graph_->add_constant(fresh("rnn_state0"), z.value());
      if (!id.ok()) return id.status();
      v = id.value();
    }
    inputs.push_back(v);
  }
  OpAttrs a;
  a.numbers["hidden_size"] = static_cast<double>(hs);
  if (with_state) a.numbers["initial_state"] = 1;
  a.numbers["bidirectional"] = dirs == 2 ? 1 : 0;
  if (direction == "reverse") a.numbers["reverse"] = 1;
  if (!lstm) a.numbers["linear_before_reset"] = static_cast<double>(attr_i(n, "linear_before_reset", 0) != 0);
  Result<std::vector<int>> outs = graph_->add_node(lstm ? OpType::kLstm : OpType::kGru, fresh(n.op_type), inputs, a);
  if (!outs.ok()) return Status(outs.status().code(), "ONNX " + n.op_type + ": " + outs.status().message());
  reads_shape();  // the outputs' reshapes hold the batch and step counts
  if (n.output.size() > 0 && !n.output[0].empty()) {  // Y: (T, D, N, H) or, with layout 1, (N, T, D, H)
    Result<int> y = reshape_to(outs.value()[0], {batch, steps, dirs, hs}, "rnn_y");
    if (!y.ok()) return y.status();
    int v = y.value();
    if (layout == 0) {
      Result<int> t = permute(v, {1, 2, 0, 3}, "rnn_y_t");
      if (!t.ok()) return t.status();
      v = t.value();
    }
    acts_[n.output[0]] = Act{v, Layout::kPlain};
  }
  for (size_t k = 1; k < n.output.size() && k <= (lstm ? 2u : 1u); ++k) {  // Y_h, Y_c: (D, N, H)
    if (n.output[k].empty()) continue;
    Result<int> h = reshape_to(outs.value()[k], {batch, dirs, hs}, "rnn_state");
    if (!h.ok()) return h.status();
    int v = h.value();
    if (layout == 0) {
      Result<int> t = permute(v, {1, 0, 2}, "rnn_state_t");
      if (!t.ok()) return t.status();
      v = t.value();
    }
    acts_[n.output[k]] = Act{v, Layout::kPlain};
  }
  return Status::Ok();
}

}  // namespace vitrine::onnx_importer
