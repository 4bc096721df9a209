#include "vitrine/ops.h"

namespace vitrine {

const std::vector<OpInfo>& all_ops() {
  static const std::vector<OpInfo> table = {
#define VITRINE_OP(Name, id, name) {OpType::k##Name, id, name, &create_##Name##Op},
#include "vitrine/ops.def"
#undef VITRINE_OP
  };
  return table;
}

Result<const OpInfo*> find_op(std::string_view name) {
  for (const OpInfo& info : all_ops())
    if (name == info.name) return &info;
  return Status::NotFound("unknown op '" + std::string(name) + "'");
}

Result<const OpInfo*> find_op(uint16_t id) {
  for (const OpInfo& info : all_ops())
    if (info.id == id) return &info;
  return Status::NotFound("unknown op id " + std::to_string(id));
}

const OpInfo& op_info(OpType type) {
  for (const OpInfo& info : all_ops())
    if (info.type == type) return info;
  static const OpInfo invalid{type, 0xFFFF, "invalid", nullptr};
  return invalid;
}

const char* Op::name() const { return op_info(type()).name; }

}  // namespace vitrine
