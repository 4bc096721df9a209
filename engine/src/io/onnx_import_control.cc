// Control flow: If, and Loop with a trip count and condition known at import (unrolled).
#include "onnx_importer.h"

namespace vitrine::onnx_importer {

void Importer::register_control_ops(HandlerTable* t) {
  t->insert({{"If", &Importer::if_op}, {"Loop", &Importer::loop_op}});
}

Status Importer::if_op(const NodeProto& n) {
  const AttributeProto* then_a = onnx::find_attribute(n, "then_branch");
  const AttributeProto* else_a = onnx::find_attribute(n, "else_branch");
  if (!then_a || !then_a->g || !else_a || !else_a->g) return err(n, "needs then_branch and else_branch graphs");
  const onnx::GraphProto* branches[2] = {then_a->g.get(), else_a->g.get()};
  for (const onnx::GraphProto* b : branches) {
    if (b->output.size() != n.output.size()) {
      return err(n, "a branch has " + std::to_string(b->output.size()) + " outputs, the node " + std::to_string(n.output.size()));
    }
  }
  if (depth_ >= 16) return unsupported(n, "branches nested more than 16 deep");
  if (const Const* c = constant(n.input[0])) {  // known now: the branch it picks joins this graph
    if (c->count() != 1) return err(n, "the condition must have one element, got " + std::to_string(c->count()));
    const bool take_then = c->is_int ? c->i[0] != 0 : c->f[0] != 0.0f;
    const onnx::GraphProto& b = *branches[take_then ? 0 : 1];
    for (const NodeProto& m : b.node) {
      for (const std::string& out : m.output) {
        if (!out.empty() && (acts_.count(out) || consts_.count(out))) {
          return err(n, "branch value '" + out + "' has the name of an outer value");
        }
      }
    }
    ++depth_;
    Status s = add_initializers(b);
    if (s.ok()) s = import_nodes(b);
    --depth_;
    VITRINE_RETURN_IF_ERROR(s);
    for (size_t k = 0; k < n.output.size(); ++k) {
      if (n.output[k].empty()) continue;
      const std::string& from = b.output[k].name;
      VITRINE_RETURN_IF_ERROR(pull(from));
      if (acts_.count(from)) {
        acts_[n.output[k]] = acts_[from];
      } else if (const Const* v = constant(from)) {
        Const copy = *v;
        consts_[n.output[k]] = std::move(copy);
      } else {
        return err(n, "branch output '" + from + "' is never computed");
      }
    }
    return Status::Ok();
  }
  // Known only at run time: each branch becomes a graph of its own, fed the outer values it reads.
  Result<int> cond = as_layout(n, 0, Layout::kPlain);
  if (!cond.ok()) return cond.status();
  std::vector<int> inputs = {cond.value()};
  OpAttrs attrs;
  Status errors[2];
  for (int k = 0; k < 2; ++k) {
    Importer child(model_, options_, info_);
    child.opset_ = opset_;
    child.parent_ = this;
    child.depth_ = depth_ + 1;
    child.const_bytes_ = const_bytes_;
    auto sub = std::make_shared<Subgraph>();
    Result<std::shared_ptr<Graph>> g = child.import_branch(*branches[k]);
    if (g.ok()) {
      sub->graph = std::move(g).value();
      inputs.insert(inputs.end(), child.captures_.begin(), child.captures_.end());
    } else {
      // Shapes that only the other branch can take (e.g. a sample rate's own frame size): an
      // error only if this branch is taken.
      sub->error = g.status();
      errors[k] = g.status();
    }
    if (k == 0) attrs.ints["then_inputs"] = {static_cast<int64_t>(inputs.size()) - 1};
    attrs.subgraphs.push_back(std::move(sub));
  }
  if (!errors[0].ok() && !errors[1].ok()) {
    return Status(errors[0].code(), "ONNX If '" + (n.name.empty() ? n.output[0] : n.name) +
                                        "': neither branch imports: then: " + errors[0].message() +
                                        "; else: " + errors[1].message());
  }
  Result<std::vector<int>> outs = graph_->add_node(OpType::kIf, n.name.empty() ? fresh("if") : n.name, inputs, std::move(attrs));
  if (!outs.ok()) return outs.status();
  for (size_t k = 0; k < n.output.size(); ++k)
    if (!n.output[k].empty()) acts_[n.output[k]] = Act{outs.value()[k], Layout::kPlain};
  return Status::Ok();
}

// A loop value between iterations: an activation or a constant.
struct LoopValue {
  bool is_const = false;
  Act act;
  Const c;
};

Status Importer::loop_op(const NodeProto& n) {
  const AttributeProto* body_a = onnx::find_attribute(n, "body");
  if (!body_a || !body_a->g) return err(n, "needs a body graph");
  const onnx::GraphProto& body = *body_a->g;
  if (depth_ >= 16) return unsupported(n, "loops nested more than 16 deep");
  const size_t carried = n.input.size() >= 2 ? n.input.size() - 2 : 0;
  if (body.input.size() != 2 + carried) {
    return err(n, "the body takes " + std::to_string(body.input.size()) + " inputs, expected 2 + " + std::to_string(carried) + " carried values");
  }
  if (body.output.size() < 1 + carried) return err(n, "the body gives fewer outputs than 1 + the carried values");
  const size_t scans = body.output.size() - 1 - carried;
  if (n.output.size() > carried + scans) return err(n, "has more outputs than the body gives");
  // The trip count and the first condition must be known now: the loop is unrolled.
  int64_t trips = kMaxUnroll + 1;
  bool bounded = false;
  if (has_input(n, 0)) {
    const Const* m = constant(n.input[0]);
    if (!m || !m->is_int || m->count() != 1) return unsupported(n, "a trip count known only at run time (Vitrine unrolls loops)");
    trips = m->i[0];
    bounded = true;
  }
  bool cond = true;
  if (has_input(n, 1)) {
    const Const* c = constant(n.input[1]);
    if (!c || c->count() != 1) return unsupported(n, "a condition known only at run time (Vitrine unrolls loops)");
    cond = c->is_int ? c->i[0] != 0 : c->f[0] != 0.0f;
  }
  if (bounded && trips > kMaxUnroll) {
    return unsupported(n, "a trip count of " + std::to_string(trips) + " (unrolled loops run at most " + std::to_string(kMaxUnroll) + " times)");
  }
  auto current = [&](const std::string& name) -> Result<LoopValue> {
    VITRINE_RETURN_IF_ERROR(pull(name));
    LoopValue v;
    if (const Const* c = constant(name)) {
      v.is_const = true;
      v.c = *c;
    } else if (acts_.count(name)) {
      v.act = acts_[name];
    } else {
      return err(n, "value '" + name + "' is never computed");
    }
    return v;
  };
  std::vector<LoopValue> state;
  for (size_t k = 0; k < carried; ++k) {
    VITRINE_ASSIGN_OR_RETURN(LoopValue v, current(n.input[2 + k]));
    state.push_back(std::move(v));
  }
  // Names the body defines, forgotten before each iteration so that none leaks into the next.
  std::set<std::string> local;
  for (const onnx::ValueInfoProto& in : body.input) local.insert(in.name);
  for (const onnx::TensorProto& t : body.initializer) local.insert(t.name);
  for (const NodeProto& m : body.node)
    for (const std::string& out : m.output) local.insert(out);
  for (const std::string& name : local) {
    if (!name.empty() && (acts_.count(name) || consts_.count(name))) return err(n, "body value '" + name + "' has the name of an outer value");
  }
  auto forget = [&]() {
    for (const std::string& name : local) {
      acts_.erase(name);
      consts_.erase(name);
      const_ids_.erase(name);
    }
    for (const NodeProto& m : body.node) fused_.erase(&m);
  };
  auto bind = [&](const std::string& name, const LoopValue& v) {
    if (name.empty()) return;
    if (v.is_const) consts_[name] = v.c;
    else acts_[name] = v.act;
  };
  std::vector<std::vector<int>> scanned(scans);
  int64_t done = 0;
  ++depth_;
  Status status = Status::Ok();
  for (; status.ok() && cond && done < trips; ++done) {
    if (done >= kMaxUnroll) {
      status = unsupported(n, "a loop that runs more than " + std::to_string(kMaxUnroll) + " times");
      break;
    }
    forget();
    Const iteration;
    iteration.is_int = true;
    iteration.dims = {};
    iteration.i = {done};
    Const cond_in;
    cond_in.is_int = true;
    cond_in.onnx_type = onnx::DataType::kBool;
    cond_in.i = {1};
    if (!body.input[0].name.empty()) consts_[body.input[0].name] = iteration;
    if (!body.input[1].name.empty()) consts_[body.input[1].name] = cond_in;
    for (size_t k = 0; k < carried; ++k) bind(body.input[2 + k].name, state[k]);
    status = done == 0 ? add_initializers(body) : Status::Ok();
    if (done > 0) {  // the body's initializers again (decoded once, counted once)
      for (const onnx::TensorProto& t : body.initializer) {
        Result<Const> c = to_const(t);
        if (!c.ok()) { status = c.status(); break; }
        consts_[t.name] = std::move(c).value();
      }
    }
    if (status.ok()) status = import_nodes(body);
    if (!status.ok()) break;
    // The next condition, carried values and this iteration's scan outputs.
    Result<LoopValue> next_cond = current(body.output[0].name);
    if (!next_cond.ok()) { status = next_cond.status(); break; }
    if (!next_cond->is_const || next_cond->c.count() != 1) {
      status = unsupported(n, "a condition computed from activations (Vitrine unrolls loops)");
      break;
    }
    cond = next_cond->c.is_int ? next_cond->c.i[0] != 0 : next_cond->c.f[0] != 0.0f;
    std::vector<LoopValue> next;
    for (size_t k = 0; k < carried && status.ok(); ++k) {
      Result<LoopValue> v = current(body.output[1 + k].name);
      if (!v.ok()) status = v.status();
      else next.push_back(std::move(v).value());
    }
    for (size_t k = 0; k < scans && status.ok(); ++k) {
      NodeProto fake;
      fake.op_type = "Loop";
      fake.input = {body.output[1 + carried + k].name};
      fake.output = {n.output.empty() ? std::string("loop") : n.output[0]};
      Result<int> id = as_layout(fake, 0, Layout::kPlain);
      if (!id.ok()) status = id.status();
      else scanned[k].push_back(id.value());
    }
    state = std::move(next);
  }
  forget();
  --depth_;
  VITRINE_RETURN_IF_ERROR(status);
  for (size_t k = 0; k < carried && k < n.output.size(); ++k) bind(n.output[k], state[k]);
  for (size_t k = 0; k < scans && carried + k < n.output.size(); ++k) {
    const std::string& out = n.output[carried + k];
    if (out.empty()) continue;
    if (scanned[k].empty()) return unsupported(n, "a scan output of a loop that runs no iteration (its shape is unknown)");
    std::vector<int> parts;
    for (int v : scanned[k]) {
      std::vector<int64_t> dims = {1};
      for (int64_t d : graph_->value(v).shape.to_vector()) dims.push_back(d);
      VITRINE_ASSIGN_OR_RETURN(int r, reshape_to(v, dims, "loop_scan"));
      parts.push_back(r);
    }
    int stacked = parts[0];
    if (parts.size() > 1) {
      OpAttrs a;
      a.numbers["axis"] = 0;
      VITRINE_ASSIGN_OR_RETURN(stacked, graph_->add(OpType::kConcat, fresh("loop_scan"), parts, a));
    }
    acts_[out] = Act{stacked, Layout::kPlain};
  }
  return Status::Ok();
}

}  // namespace vitrine::onnx_importer
