// Control flow: If.
#include "onnx_importer.h"

namespace vitrine::onnx_importer {

void Importer::register_control_ops(HandlerTable* t) {
  t->insert({{"If", &Importer::if_op}});
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

}  // namespace vitrine::onnx_importer
