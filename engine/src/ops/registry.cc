#include "vitrine/ops.h"

namespace vitrine {

const std::vector<OpInfo>& all_ops() {
  static const std::vector<OpInfo> table = {
#define VITRINE_OP(Name, id, name) k##Name##Info,
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

bool takes_f16(OpType type) {
  switch (type) {
    case OpType::kCast:
    case OpType::kIdentity:
    case OpType::kReshape:
    case OpType::kTranspose:
    case OpType::kConcat:
    case OpType::kSlice:
    case OpType::kGather:
    case OpType::kExpand:
    case OpType::kTile:
    case OpType::kWhere:
    case OpType::kIf: return true;
    default: return false;
  }
}

const OpInfo& op_info(OpType type) {
  for (const OpInfo& info : all_ops())
    if (info.type == type) return info;
  static const OpInfo invalid{type, 0xFFFF, "invalid", 0, 0, nullptr, nullptr};
  return invalid;
}


double OpAttrs::number(const std::string& key, double fallback) const {
  auto it = numbers.find(key);
  return it == numbers.end() ? fallback : it->second;
}

Result<int64_t> OpAttrs::integer(const std::string& key, int64_t fallback) const {
  auto it = numbers.find(key);
  if (it == numbers.end()) return fallback;
  double v = it->second;
  if (!(v >= -9.0e15 && v <= 9.0e15) || static_cast<double>(static_cast<int64_t>(v)) != v) {
    return Status::InvalidArgument("attribute '" + key + "' must be an integer, got " + std::to_string(v));
  }
  return static_cast<int64_t>(v);
}

Result<std::vector<int64_t>> OpAttrs::int_list(const std::string& key, int size,
                                               std::vector<int64_t> fallback) const {
  auto it = ints.find(key);
  if (it == ints.end()) return fallback;
  if (size >= 0 && it->second.size() != static_cast<size_t>(size)) {
    return Status::InvalidArgument("attribute '" + key + "' must hold " + std::to_string(size) +
                                   " integers, got " + std::to_string(it->second.size()));
  }
  return it->second;
}

std::string OpAttrs::string(const std::string& key, const std::string& fallback) const {
  auto it = strings.find(key);
  return it == strings.end() ? fallback : it->second;
}

Status OpAttrs::check_known(const char* op, std::initializer_list<const char*> known) const {
  auto is_known = [&](const std::string& k) {
    for (const char* n : known)
      if (k == n) return true;
    return false;
  };
  for (const auto& [k, v] : numbers)
    if (!is_known(k)) return Status::InvalidArgument(std::string(op) + ": unknown attribute '" + k + "'");
  for (const auto& [k, v] : ints)
    if (!is_known(k)) return Status::InvalidArgument(std::string(op) + ": unknown attribute '" + k + "'");
  for (const auto& [k, v] : strings)
    if (!is_known(k)) return Status::InvalidArgument(std::string(op) + ": unknown attribute '" + k + "'");
  return Status::Ok();
}

}  // namespace vitrine
