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

std::string_view KindLabel(Change::Kind kind) {
  switch (kind) {
    case Change::SERVER:
      return "server";
    case Change::NAMESPACE:
      return "namespace";
    case Change::ENDPOINT:
      return "endpoint";
    case Change::USER:
      return "user";
    case Change::API_KEY:
      return "api key";
    case Change::TOOL_OVERRIDE:
      return "tool override";
    default:
      return "object";
  }
}

std::string_view ObjectField(Change::Kind kind) {
  switch (kind) {
    case Change::SERVER:
      return "server";
    case Change::NAMESPACE:
      return "namespace";
    case Change::ENDPOINT:
      return "endpoint";
    case Change::USER:
      return "user";
    case Change::API_KEY:
      return "api_key";
    case Change::TOOL_OVERRIDE:
      return "tool_override";
    default:
      return "object";
  }
}

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
