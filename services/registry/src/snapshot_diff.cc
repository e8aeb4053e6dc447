#include "services/registry/src/snapshot_diff.h"

#include <google/protobuf/util/message_differencer.h>

#include <algorithm>
#include <map>
#include <string>

namespace switchboard::registry {
namespace {

using google::protobuf::util::MessageDifferencer;
using v1::Change;

const std::string& KeyOf(const v1::Server& s) { return s.name(); }
const std::string& KeyOf(const v1::Namespace& n) { return n.name(); }
const std::string& KeyOf(const v1::Endpoint& e) { return e.name(); }
const std::string& KeyOf(const v1::User& u) { return u.email(); }
const std::string& KeyOf(const v1::ApiKey& k) { return k.id(); }
std::string KeyOf(const v1::ToolOverride& o) { return ToolOverrideKey(o); }

void SetObject(Change* c, const v1::Server& s) { *c->mutable_server() = s; }
void SetObject(Change* c, const v1::Namespace& n) { *c->mutable_namespace_() = n; }
void SetObject(Change* c, const v1::Endpoint& e) { *c->mutable_endpoint() = e; }
void SetObject(Change* c, const v1::User& u) { *c->mutable_user() = u; }
void SetObject(Change* c, const v1::ApiKey& k) { *c->mutable_api_key() = k; }
void SetObject(Change* c, const v1::ToolOverride& o) { *c->mutable_tool_override() = o; }

template <typename T>
std::map<std::string, const T*> Index(const google::protobuf::RepeatedPtrField<T>& list) {
  std::map<std::string, const T*> out;
  for (const T& item : list) out[KeyOf(item)] = &item;
  return out;
}

Change Upsert(Change::Kind kind, const auto& object) {
  Change c;
  c.set_op(Change::UPSERT);
  c.set_kind(kind);
  c.set_name(KeyOf(object));
  SetObject(&c, object);
  return c;
}

// Upserts for objects of `after` that `before` lacks or holds differently, in key order.
template <typename T>
void DiffUpserts(Change::Kind kind, const google::protobuf::RepeatedPtrField<T>& before,
                 const google::protobuf::RepeatedPtrField<T>& after, std::vector<Change>* out) {
  auto old_index = Index(before);
  for (const auto& [key, object] : Index(after)) {
    auto it = old_index.find(key);
    if (it == old_index.end() || !MessageDifferencer::Equals(*it->second, *object)) {
      out->push_back(Upsert(kind, *object));
    }
  }
}

template <typename T>
void DiffDeletes(Change::Kind kind, const google::protobuf::RepeatedPtrField<T>& before,
                 const google::protobuf::RepeatedPtrField<T>& after, std::vector<Change>* out) {
  auto new_index = Index(after);
  for (const auto& [key, object] : Index(before)) {
    if (new_index.count(key)) continue;
    Change c;
    c.set_op(Change::DELETE);
    c.set_kind(kind);
    c.set_name(key);
    out->push_back(std::move(c));
  }
}

// Upserts for requested objects that are new or changed, in request order.
template <typename T>
void PlanKind(Change::Kind kind, const google::protobuf::RepeatedPtrField<T>& current,
              const google::protobuf::RepeatedPtrField<T>& requested, std::vector<Change>* out) {
  auto index = Index(current);
  for (const T& object : requested) {
    auto it = index.find(KeyOf(object));
    if (it == index.end() || !MessageDifferencer::Equals(*it->second, object)) {
      out->push_back(Upsert(kind, object));
    }
  }
}

template <typename T>
void SortByKey(google::protobuf::RepeatedPtrField<T>* list) {
  std::sort(list->begin(), list->end(), [](const T& a, const T& b) { return KeyOf(a) < KeyOf(b); });
}

}  // namespace

std::string ToolOverrideKey(const v1::ToolOverride& o) {
  return o.namespace_() + "/" + o.server() + "/" + o.tool();
}

Change UpsertChange(const v1::Server& object) { return Upsert(Change::SERVER, object); }
Change UpsertChange(const v1::Namespace& object) { return Upsert(Change::NAMESPACE, object); }
Change UpsertChange(const v1::Endpoint& object) { return Upsert(Change::ENDPOINT, object); }
Change UpsertChange(const v1::User& object) { return Upsert(Change::USER, object); }
Change UpsertChange(const v1::ApiKey& object) { return Upsert(Change::API_KEY, object); }
Change UpsertChange(const v1::ToolOverride& object) {
  return Upsert(Change::TOOL_OVERRIDE, object);
}

std::vector<Change> DiffSnapshots(const v1::Snapshot& before, const v1::Snapshot& after) {
  std::vector<Change> out;
  DiffUpserts(Change::SERVER, before.servers(), after.servers(), &out);
  DiffUpserts(Change::NAMESPACE, before.namespaces(), after.namespaces(), &out);
  DiffUpserts(Change::ENDPOINT, before.endpoints(), after.endpoints(), &out);
  DiffUpserts(Change::USER, before.users(), after.users(), &out);
  DiffUpserts(Change::API_KEY, before.api_keys(), after.api_keys(), &out);
  DiffUpserts(Change::TOOL_OVERRIDE, before.tool_overrides(), after.tool_overrides(), &out);
  DiffDeletes(Change::TOOL_OVERRIDE, before.tool_overrides(), after.tool_overrides(), &out);
  DiffDeletes(Change::API_KEY, before.api_keys(), after.api_keys(), &out);
  DiffDeletes(Change::USER, before.users(), after.users(), &out);
  DiffDeletes(Change::ENDPOINT, before.endpoints(), after.endpoints(), &out);
  DiffDeletes(Change::NAMESPACE, before.namespaces(), after.namespaces(), &out);
  DiffDeletes(Change::SERVER, before.servers(), after.servers(), &out);
  return out;
}

std::vector<Change> PlanApply(const v1::Snapshot& current, const v1::ApplyRequest& request) {
  std::vector<Change> out;
  PlanKind(Change::SERVER, current.servers(), request.servers(), &out);
  PlanKind(Change::NAMESPACE, current.namespaces(), request.namespaces(), &out);
  PlanKind(Change::ENDPOINT, current.endpoints(), request.endpoints(), &out);
  PlanKind(Change::USER, current.users(), request.users(), &out);
  return out;
}

void SortSnapshot(v1::Snapshot* snapshot) {
  SortByKey(snapshot->mutable_servers());
  SortByKey(snapshot->mutable_namespaces());
  SortByKey(snapshot->mutable_endpoints());
  SortByKey(snapshot->mutable_users());
  SortByKey(snapshot->mutable_api_keys());
  SortByKey(snapshot->mutable_tool_overrides());
}

}  // namespace switchboard::registry
