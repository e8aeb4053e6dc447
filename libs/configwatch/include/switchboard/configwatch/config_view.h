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

  const std::map<std::string, registry::v1::Server, std::less<>>& servers() const {
    return servers_;
  }
  const std::map<std::string, registry::v1::Endpoint, std::less<>>& endpoints() const {
    return endpoints_;
  }

 private:
  void Upsert(const registry::v1::Change& change);
  void Erase(const registry::v1::Change& change);

  int64_t revision_ = 0;
  std::map<std::string, registry::v1::Server, std::less<>> servers_;
  std::map<std::string, registry::v1::Namespace, std::less<>> namespaces_;
  std::map<std::string, registry::v1::Endpoint, std::less<>> endpoints_;
  std::map<std::string, registry::v1::User, std::less<>> users_;
  std::map<std::string, registry::v1::ApiKey, std::less<>> api_keys_;         // by id
  std::map<std::string, std::string, std::less<>> api_key_id_by_sha256_;
};

}  // namespace switchboard::configwatch
