#include "switchboard/configwatch/config_view.h"

#include "switchboard/common/strings.h"

namespace switchboard::configwatch {

using registry::v1::Change;

namespace {

template <typename Map>
const typename Map::mapped_type* FindIn(const Map& map, std::string_view key) {
  auto it = map.find(key);
  return it == map.end() ? nullptr : &it->second;
}

}  // namespace

std::shared_ptr<const ConfigView> ConfigView::FromSnapshot(const registry::v1::Snapshot& s) {
  auto view = std::make_shared<ConfigView>();
  view->revision_ = s.revision();
  for (const auto& x : s.servers()) view->servers_[x.name()] = x;
  for (const auto& x : s.namespaces()) view->namespaces_[x.name()] = x;
  for (const auto& x : s.endpoints()) view->endpoints_[x.name()] = x;
  for (const auto& x : s.users()) view->users_[x.email()] = x;
  for (const auto& x : s.api_keys()) {
    view->api_keys_[x.id()] = x;
    view->api_key_id_by_sha256_[x.key_sha256()] = x.id();
  }
  for (const auto& x : s.tool_overrides()) view->UpsertToolOverride(x);
  return view;
}

std::shared_ptr<const ConfigView> ConfigView::Apply(const registry::v1::WatchEvent& event) const {
  if (event.has_snapshot()) return FromSnapshot(event.snapshot());
  auto view = std::make_shared<ConfigView>(*this);
  for (const Change& change : event.changes()) {
    if (change.op() == Change::UPSERT) {
      view->Upsert(change);
    } else if (change.op() == Change::DELETE) {
      view->Erase(change);
    }
  }
  view->revision_ = event.revision();
  return view;
}

void ConfigView::Upsert(const Change& c) {
  switch (c.kind()) {
    case Change::SERVER:
      servers_[c.server().name()] = c.server();
      break;
    case Change::NAMESPACE:
      namespaces_[c.namespace_().name()] = c.namespace_();
      break;
    case Change::ENDPOINT:
      endpoints_[c.endpoint().name()] = c.endpoint();
      break;
    case Change::USER:
      users_[c.user().email()] = c.user();
      break;
    case Change::API_KEY: {
      auto old = api_keys_.find(c.api_key().id());
      if (old != api_keys_.end()) api_key_id_by_sha256_.erase(old->second.key_sha256());
      api_keys_[c.api_key().id()] = c.api_key();
      api_key_id_by_sha256_[c.api_key().key_sha256()] = c.api_key().id();
      break;
    }
    case Change::TOOL_OVERRIDE:
      UpsertToolOverride(c.tool_override());
      break;
    default:
      break;
  }
}

void ConfigView::Erase(const Change& c) {
  switch (c.kind()) {
    case Change::SERVER:
      servers_.erase(c.name());
      break;
    case Change::NAMESPACE:
      namespaces_.erase(c.name());
      break;
    case Change::ENDPOINT:
      endpoints_.erase(c.name());
      break;
    case Change::USER:
      users_.erase(c.name());
      break;
    case Change::API_KEY: {
      auto it = api_keys_.find(c.name());
      if (it != api_keys_.end()) {
        api_key_id_by_sha256_.erase(it->second.key_sha256());
        api_keys_.erase(it);
      }
      break;
    }
    case Change::TOOL_OVERRIDE:
      EraseToolOverride(c.name());
      break;
    default:
      break;
  }
}

std::string ConfigView::ToolOverrideKey(std::string_view ns, std::string_view server,
                                        std::string_view tool) {
  return StrCat(ns, "/", server, "/", tool);
}

void ConfigView::UpsertToolOverride(const registry::v1::ToolOverride& o) {
  std::string key = ToolOverrideKey(o.namespace_(), o.server(), o.tool());
  EraseToolOverride(key);
  if (!o.name().empty()) tool_override_by_name_[StrCat(o.namespace_(), "/", o.name())] = key;
  tool_overrides_[std::move(key)] = o;
}

void ConfigView::EraseToolOverride(std::string_view key) {
  auto it = tool_overrides_.find(key);
  if (it == tool_overrides_.end()) return;
  const registry::v1::ToolOverride& old = it->second;
  if (!old.name().empty()) {
    auto by_name = tool_override_by_name_.find(StrCat(old.namespace_(), "/", old.name()));
    // Only the entry that points here: another override may have taken the name since.
    if (by_name != tool_override_by_name_.end() && by_name->second == key) {
      tool_override_by_name_.erase(by_name);
    }
  }
  tool_overrides_.erase(it);
}

const registry::v1::ToolOverride* ConfigView::FindToolOverride(std::string_view ns,
                                                               std::string_view server,
                                                               std::string_view tool) const {
  return FindIn(tool_overrides_, ToolOverrideKey(ns, server, tool));
}

const registry::v1::ToolOverride* ConfigView::FindToolOverrideByName(std::string_view ns,
                                                                     std::string_view name) const {
  const std::string* key = FindIn(tool_override_by_name_, StrCat(ns, "/", name));
  return key == nullptr ? nullptr : FindIn(tool_overrides_, *key);
}

const registry::v1::Server* ConfigView::FindServer(std::string_view name) const {
  return FindIn(servers_, name);
}
const registry::v1::Namespace* ConfigView::FindNamespace(std::string_view name) const {
  return FindIn(namespaces_, name);
}
const registry::v1::Endpoint* ConfigView::FindEndpoint(std::string_view name) const {
  return FindIn(endpoints_, name);
}
const registry::v1::User* ConfigView::FindUser(std::string_view email) const {
  return FindIn(users_, email);
}
const registry::v1::ApiKey* ConfigView::FindApiKeyBySha256(std::string_view sha256_hex) const {
  const std::string* id = FindIn(api_key_id_by_sha256_, sha256_hex);
  return id == nullptr ? nullptr : FindIn(api_keys_, *id);
}

}  // namespace switchboard::configwatch
