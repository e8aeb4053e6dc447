#include "services/registry/src/snapshot_diff.h"

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>

#include <algorithm>
#include <boost/json.hpp>
#include <map>
#include <set>
#include <string>

#include "services/registry/src/secrets.h"
#include "switchboard/common/status.h"
#include "switchboard/common/strings.h"

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

// The object's fields as JSON (JSON names, every field present, maps as objects).
boost::json::object FieldsJson(const Change& change) {
  const google::protobuf::Message* object = ChangeObject(change);
  if (object == nullptr) return {};
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(*object, &json, options).ok()) return {};
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(json, ec);
  if (ec || !v.is_object()) return {};
  return std::move(v.as_object());
}

std::string Render(const boost::json::value* v) { return v == nullptr ? "" : serialize(*v); }

// Adds a FieldChange for `field` when its clear values differ; the shown values come from the
// masked objects, and a value that masking altered is a secret.
void CompareField(const std::string& field, const boost::json::value* before,
                  const boost::json::value* after, const boost::json::value* before_masked,
                  const boost::json::value* after_masked, std::vector<v1::FieldChange>* out) {
  bool same = before == nullptr || after == nullptr ? before == after : *before == *after;
  if (same) return;
  v1::FieldChange& f = out->emplace_back();
  f.set_field(field);
  f.set_before(Render(before_masked));
  f.set_after(Render(after_masked));
  f.set_secret(Render(before) != f.before() || Render(after) != f.after());
}

const boost::json::value* Find(const boost::json::value* object, std::string_view key) {
  if (object == nullptr || !object->is_object()) return nullptr;
  return object->as_object().if_contains(key);
}

// Plans one kind: each requested object is added, changed or unchanged (CREATE_ONLY leaves an
// existing one as it is), in request order.
template <typename T>
void PlanKind(Change::Kind kind, const google::protobuf::RepeatedPtrField<T>& current,
              const google::protobuf::RepeatedPtrField<T>& requested, bool create_only,
              ApplyPlan* plan) {
  auto index = Index(current);
  for (const T& object : requested) {
    auto it = index.find(KeyOf(object));
    v1::ObjectDiff& diff = plan->diff.emplace_back();
    diff.set_kind(kind);
    diff.set_name(KeyOf(object));
    if (it == index.end()) {
      diff.set_action(v1::ObjectDiff::ADDED);
    } else if (create_only || MessageDifferencer::Equals(*it->second, object)) {
      diff.set_action(v1::ObjectDiff::UNCHANGED);
      continue;
    } else {
      diff.set_action(v1::ObjectDiff::CHANGED);
      for (v1::FieldChange& f : FieldChanges(Upsert(kind, *it->second), Upsert(kind, object))) {
        *diff.add_fields() = std::move(f);
      }
    }
    plan->changes.push_back(Upsert(kind, object));
  }
}

// Plans the deletes of a PRUNE: every stored object of the kind the request does not name.
template <typename T>
void PruneKind(Change::Kind kind, const google::protobuf::RepeatedPtrField<T>& current,
               const google::protobuf::RepeatedPtrField<T>& requested, ApplyPlan* plan) {
  std::vector<Change> deletes;
  DiffDeletes(kind, current, requested, &deletes);
  for (Change& c : deletes) {
    v1::ObjectDiff& diff = plan->diff.emplace_back();
    diff.set_action(v1::ObjectDiff::REMOVED);
    diff.set_kind(kind);
    diff.set_name(c.name());
    plan->changes.push_back(std::move(c));
  }
}

template <typename T>
void SortByKey(google::protobuf::RepeatedPtrField<T>* list) {
  std::sort(list->begin(), list->end(), [](const T& a, const T& b) { return KeyOf(a) < KeyOf(b); });
}

// Applies one change to the list of its kind.
template <typename T>
void ApplyTo(google::protobuf::RepeatedPtrField<T>* list, const Change& change, const T& object) {
  auto it = std::find_if(list->begin(), list->end(),
                         [&](const T& item) { return KeyOf(item) == change.name(); });
  if (change.op() == Change::DELETE) {
    if (it != list->end()) list->erase(it);
  } else if (it != list->end()) {
    *it = object;
  } else {
    *list->Add() = object;
  }
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

const google::protobuf::Message* ChangeObject(const Change& change) {
  if (change.has_server()) return &change.server();
  if (change.has_namespace_()) return &change.namespace_();
  if (change.has_endpoint()) return &change.endpoint();
  if (change.has_user()) return &change.user();
  if (change.has_api_key()) return &change.api_key();
  if (change.has_tool_override()) return &change.tool_override();
  return nullptr;
}

std::vector<v1::FieldChange> FieldChanges(const Change& before, const Change& after) {
  Change before_masked = before;
  Change after_masked = after;
  BlankSecrets(&before_masked);
  BlankSecrets(&after_masked);
  const boost::json::value b = FieldsJson(before);
  const boost::json::value a = FieldsJson(after);
  const boost::json::value bm = FieldsJson(before_masked);
  const boost::json::value am = FieldsJson(after_masked);
  std::vector<std::string> fields;
  for (const auto& kv : a.as_object()) fields.emplace_back(kv.key());
  for (const auto& kv : b.as_object()) {
    if (!a.as_object().contains(kv.key())) fields.emplace_back(kv.key());
  }
  std::vector<v1::FieldChange> out;
  for (const std::string& field : fields) {
    const boost::json::value* bf = Find(&b, field);
    const boost::json::value* af = Find(&a, field);
    bool is_map = (bf == nullptr || bf->is_object()) && (af == nullptr || af->is_object());
    if (!is_map) {
      CompareField(field, bf, af, Find(&bm, field), Find(&am, field), &out);
      continue;
    }
    std::set<std::string> keys;
    for (const boost::json::value* m : {bf, af}) {
      if (m == nullptr) continue;
      for (const auto& kv : m->as_object()) keys.emplace(kv.key());
    }
    for (const std::string& key : keys) {
      CompareField(StrCat(field, ".", key), Find(bf, key), Find(af, key),
                   Find(Find(&bm, field), key), Find(Find(&am, field), key), &out);
    }
  }
  return out;
}

absl::StatusOr<ApplyPlan> PlanApply(const v1::Snapshot& current,
                                    const v1::ApplyRequest& original) {
  v1::ApplyRequest request = original;
  auto stored_servers = Index(current.servers());
  for (int i = 0; i < request.servers_size(); ++i) {
    auto it = stored_servers.find(request.servers(i).name());
    SB_RETURN_IF_ERROR(RestoreBlankedSecrets(request.mutable_servers(i),
                                             it == stored_servers.end() ? nullptr : it->second,
                                             StrCat("servers[", i, "]")));
  }
  const bool create_only = request.mode() == v1::ApplyRequest::CREATE_ONLY;
  ApplyPlan plan;
  PlanKind(Change::SERVER, current.servers(), request.servers(), create_only, &plan);
  PlanKind(Change::NAMESPACE, current.namespaces(), request.namespaces(), create_only, &plan);
  PlanKind(Change::ENDPOINT, current.endpoints(), request.endpoints(), create_only, &plan);
  PlanKind(Change::USER, current.users(), request.users(), create_only, &plan);
  PlanKind(Change::TOOL_OVERRIDE, current.tool_overrides(), request.tool_overrides(), create_only,
           &plan);
  if (request.mode() == v1::ApplyRequest::PRUNE) {
    PruneKind(Change::TOOL_OVERRIDE, current.tool_overrides(), request.tool_overrides(), &plan);
    PruneKind(Change::USER, current.users(), request.users(), &plan);
    PruneKind(Change::ENDPOINT, current.endpoints(), request.endpoints(), &plan);
    PruneKind(Change::NAMESPACE, current.namespaces(), request.namespaces(), &plan);
    PruneKind(Change::SERVER, current.servers(), request.servers(), &plan);
  } else {
    // A namespace that drops a server drops its overrides of that server's tools. (A prune
    // deletes every override the request does not name, and it cannot name these.)
    for (Change& c : OrphanedOverrideDeletes(ApplyChanges(current, plan.changes))) {
      v1::ObjectDiff& diff = plan.diff.emplace_back();
      diff.set_action(v1::ObjectDiff::REMOVED);
      diff.set_kind(Change::TOOL_OVERRIDE);
      diff.set_name(c.name());
      plan.changes.push_back(std::move(c));
    }
  }
  return plan;
}

v1::Snapshot ApplyChanges(v1::Snapshot s, const std::vector<Change>& changes) {
  for (const Change& c : changes) {
    switch (c.kind()) {
      case Change::SERVER: ApplyTo(s.mutable_servers(), c, c.server()); break;
      case Change::NAMESPACE: ApplyTo(s.mutable_namespaces(), c, c.namespace_()); break;
      case Change::ENDPOINT: ApplyTo(s.mutable_endpoints(), c, c.endpoint()); break;
      case Change::USER: ApplyTo(s.mutable_users(), c, c.user()); break;
      case Change::API_KEY: ApplyTo(s.mutable_api_keys(), c, c.api_key()); break;
      case Change::TOOL_OVERRIDE: ApplyTo(s.mutable_tool_overrides(), c, c.tool_override()); break;
      default: break;
    }
  }
  return s;
}

std::vector<Change> OrphanedOverrideDeletes(const v1::Snapshot& snapshot) {
  std::map<std::string, std::set<std::string>> members;
  for (const v1::Namespace& ns : snapshot.namespaces()) {
    for (const v1::NamespaceServer& m : ns.servers()) members[ns.name()].insert(m.server());
  }
  std::vector<Change> out;
  for (const v1::ToolOverride& o : snapshot.tool_overrides()) {
    auto ns = members.find(o.namespace_());
    if (ns != members.end() && ns->second.count(o.server())) continue;
    Change c;
    c.set_op(Change::DELETE);
    c.set_kind(Change::TOOL_OVERRIDE);
    c.set_name(ToolOverrideKey(o));
    out.push_back(std::move(c));
  }
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
