#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "switchboard/registry/v1/registry.pb.h"

namespace switchboard::configwatch {

// An immutable, indexed view of the configuration at one registry revision. Shared between
// threads by shared_ptr<const ConfigView>; a change builds a new view.
class ConfigView {
 public:
  // Builds a view of a full snapshot.
  static std::shared_ptr<const ConfigView> FromSnapshot(const registry::v1::Snapshot& snapshot);

  // Builds the view that results from applying `event` (a snapshot, or changes) to this one.
  std::shared_ptr<const ConfigView> Apply(const registry::v1::WatchEvent& event) const;

  int64_t revision() const { return revision_; }
  const registry::v1::Server* FindServer(std::string_view name) const;
  const registry::v1::Namespace* FindNamespace(std::string_view name) const;
  const registry::v1::Endpoint* FindEndpoint(std::string_view name) const;
  const registry::v1::User* FindUser(std::string_view email) const;
  // Looks up an API key by the SHA-256 (lowercase hex) of the clear key.
  const registry::v1::ApiKey* FindApiKeyBySha256(std::string_view sha256_hex) const;
  // The override of `tool` (as its server reports it) of `server` within `ns`, or nullptr.
  const registry::v1::ToolOverride* FindToolOverride(std::string_view ns, std::string_view server,
                                                     std::string_view tool) const;
  // The override within `ns` that renames a tool to `name` (the name clients see), or nullptr.
  const registry::v1::ToolOverride* FindToolOverrideByName(std::string_view ns,
                                                           std::string_view name) const;
  // The key of a tool override, as in Change.name: "namespace/server/tool".
  static std::string ToolOverrideKey(std::string_view ns, std::string_view server,
                                     std::string_view tool);

  const std::map<std::string, registry::v1::Server, std::less<>>& servers() const {
    return servers_;
  }
  const std::map<std::string, registry::v1::Endpoint, std::less<>>& endpoints() const {
    return endpoints_;
  }
  const std::map<std::string, registry::v1::Namespace, std::less<>>& namespaces() const {
    return namespaces_;
  }
  // Every tool override, by ToolOverrideKey: a namespace's overrides are adjacent.
  const std::map<std::string, registry::v1::ToolOverride, std::less<>>& tool_overrides() const {
    return tool_overrides_;
  }

 private:
  void Upsert(const registry::v1::Change& change);
  void Erase(const registry::v1::Change& change);
  void UpsertToolOverride(const registry::v1::ToolOverride& tool_override);
  void EraseToolOverride(std::string_view key);

  int64_t revision_ = 0;
  std::map<std::string, registry::v1::Server, std::less<>> servers_;
  std::map<std::string, registry::v1::Namespace, std::less<>> namespaces_;
  std::map<std::string, registry::v1::Endpoint, std::less<>> endpoints_;
  std::map<std::string, registry::v1::User, std::less<>> users_;
  std::map<std::string, registry::v1::ApiKey, std::less<>> api_keys_;         // by id
  std::map<std::string, std::string, std::less<>> api_key_id_by_sha256_;
  std::map<std::string, registry::v1::ToolOverride, std::less<>> tool_overrides_;  // by key
  // "namespace/name" of each renaming override -> its key.
  std::map<std::string, std::string, std::less<>> tool_override_by_name_;
};

}  // namespace switchboard::configwatch
