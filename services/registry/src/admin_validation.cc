#include "services/registry/src/admin_validation.h"

#include "services/registry/src/snapshot_diff.h"
#include "switchboard/common/status.h"
#include "switchboard/common/strings.h"
#include "switchboard/config/declarative.h"

namespace switchboard::registry {
namespace {

using v1::Change;

template <typename T, typename KeyFn>
bool Contains(const google::protobuf::RepeatedPtrField<T>& list, const std::string& key,
              KeyFn key_of) {
  for (const T& item : list) {
    if (key_of(item) == key) return true;
  }
  return false;
}

absl::Status ValidateOverride(const v1::Snapshot& current, const v1::ToolOverride& o,
                              std::string_view path) {
  SB_RETURN_IF_ERROR(
      config::ValidateToolOverride(o, path, [&](const std::string& name) -> const v1::Namespace* {
        for (const v1::Namespace& ns : current.namespaces()) {
          if (ns.name() == name) return &ns;
        }
        return nullptr;
      }));
  if (o.name().empty()) return absl::OkStatus();
  const std::string key = ToolOverrideKey(o);
  for (const v1::ToolOverride& other : current.tool_overrides()) {
    if (other.namespace_() == o.namespace_() && other.name() == o.name() &&
        ToolOverrideKey(other) != key) {
      return absl::InvalidArgumentError(StrCat(path, ".name: '", o.name(),
                                               "' is already the name of tool override '",
                                               ToolOverrideKey(other), "'"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

namespace {

// How each kind is named in the admin API's field paths and in messages.
struct KindNames {
  Change::Kind kind;
  std::string_view field;
  std::string_view label;
};
constexpr KindNames kKindNames[] = {
    {Change::SERVER, "server", "server"},
    {Change::NAMESPACE, "namespace", "namespace"},
    {Change::ENDPOINT, "endpoint", "endpoint"},
    {Change::USER, "user", "user"},
    {Change::API_KEY, "api_key", "api key"},
    {Change::TOOL_OVERRIDE, "tool_override", "tool override"},
};
constexpr KindNames kUnknownKind = {Change::KIND_UNSPECIFIED, "object", "object"};

const KindNames& NamesOf(Change::Kind kind) {
  for (const KindNames& names : kKindNames) {
    if (names.kind == kind) return names;
  }
  return kUnknownKind;
}

}  // namespace

std::string_view KindLabel(Change::Kind kind) { return NamesOf(kind).label; }

std::string_view ObjectField(Change::Kind kind) { return NamesOf(kind).field; }

absl::Status ValidateObject(const v1::Snapshot& current, const Change& object) {
  const std::string_view path = ObjectField(object.kind());
  switch (object.kind()) {
    case Change::SERVER:
      return config::ValidateServer(object.server(), path);
    case Change::NAMESPACE:
      return config::ValidateNamespace(object.namespace_(), path, [&](const std::string& name) {
        return Contains(current.servers(), name, [](const v1::Server& s) { return s.name(); });
      });
    case Change::ENDPOINT:
      return config::ValidateEndpoint(object.endpoint(), path, [&](const std::string& name) {
        return Contains(current.namespaces(), name,
                        [](const v1::Namespace& n) { return n.name(); });
      });
    case Change::USER:
      return config::ValidateUser(object.user(), path);
    case Change::TOOL_OVERRIDE:
      return ValidateOverride(current, object.tool_override(), path);
    default:
      return absl::InvalidArgumentError(
          "kind: must be SERVER, NAMESPACE, ENDPOINT, USER or TOOL_OVERRIDE");
  }
}

}  // namespace switchboard::registry
