#include "services/registry/src/registry_service.h"

#include <ctime>
#include <utility>

#include "services/registry/src/admin_validation.h"
#include "services/registry/src/secrets.h"
#include "switchboard/common/crypto.h"
#include "switchboard/common/log.h"
#include "switchboard/common/status.h"
#include "switchboard/common/strings.h"
#include "switchboard/config/declarative.h"

namespace switchboard::registry {
namespace {

using v1::Change;

constexpr std::chrono::milliseconds kListenSlice{250};
constexpr std::string_view kKeyPrefix = "sk_sb_";
constexpr size_t kKeyRandomBytes = 32;
constexpr size_t kShownPrefixLength = 8;
constexpr int kDefaultAuditLimit = 100;
constexpr int kMaxAuditLimit = 1000;

// The bounds every audit listing shares: a limit of at most kMaxAuditLimit (0 = the default)
// and a non-negative since.
absl::Status CheckListBounds(int32_t limit, int64_t since_unix) {
  if (limit < 0 || limit > kMaxAuditLimit) {
    return absl::InvalidArgumentError(StrCat("limit: must be between 0 and ", kMaxAuditLimit));
  }
  if (since_unix < 0) return absl::InvalidArgumentError("since_unix: must not be negative");
  return absl::OkStatus();
}

}  // namespace

RegistryService::RegistryService(ConfigStoreFactory factory, RegistryOptions options)
    : factory_(std::move(factory)), options_(options) {}

RegistryService::~RegistryService() { Stop(); }

absl::Status RegistryService::Start() {
  follower_store_ = factory_();
  // Listen before reading, so a change landing between the two is not missed.
  SB_RETURN_IF_ERROR(follower_store_->WaitForChange(std::chrono::milliseconds(0)).status());
  SB_ASSIGN_OR_RETURN(v1::Snapshot snapshot, follower_store_->LoadSnapshot());
  int64_t revision = snapshot.revision();
  hub_.Update(std::move(snapshot));
  pool_ = std::make_unique<StorePool>(factory_, options_.pool_threads, options_.max_queued);
  follower_ = std::thread([this] { Follow(); });
  log::Info("configuration loaded", {{"revision", revision}});
  return absl::OkStatus();
}

void RegistryService::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  stop_cv_.notify_all();
  hub_.CloseAll();
  if (follower_.joinable()) follower_.join();
  if (pool_ != nullptr) pool_->Stop();
  follower_store_.reset();
}

template <typename T, typename Work>
void RegistryService::RunOnPool(std::string_view what, Done<T> done, Work work) {
  auto shared_done = std::make_shared<Done<T>>(std::move(done));
  bool queued = false;
  bool stopping = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping = stopping_;
  }
  if (!stopping && pool_ != nullptr) {
    queued = pool_->Submit(
        [shared_done, work = std::move(work)](ConfigStore& store) { (*shared_done)(work(store)); });
  }
  if (queued) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping = stopping_;
  }
  if (stopping || pool_ == nullptr) {
    (*shared_done)(absl::UnavailableError("the registry is not running"));
    return;
  }
  log::Warn("request refused: store pool queue is full", {{"request", what}});
  (*shared_done)(absl::ResourceExhaustedError("the registry is busy; try again"));
}

void RegistryService::Apply(v1::ApplyRequest request, Done<v1::ApplyResponse> done,
                            std::string actor) {
  absl::Status valid = config::ValidateApply(request);
  if (!valid.ok()) {
    done(absl::InvalidArgumentError(std::string(MessageOf(valid))));
    return;
  }
  RunOnPool<v1::ApplyResponse>(
      "apply", std::move(done),
      [this, request = std::move(request),
       actor = std::move(actor)](ConfigStore& store) -> absl::StatusOr<v1::ApplyResponse> {
        SB_ASSIGN_OR_RETURN(ApplyOutcome outcome, store.Apply(request, actor));
        if (!request.dry_run() && !outcome.changes.empty()) PublishAfterWrite(store);
        v1::ApplyResponse response;
        response.set_revision(outcome.revision);
        for (Change& change : outcome.changes) {
          BlankSecrets(&change);
          *response.add_changes() = std::move(change);
        }
        for (v1::ObjectDiff& diff : outcome.diff) *response.add_diff() = std::move(diff);
        log::Info(request.dry_run() ? "apply planned (dry run)" : "configuration applied",
                  {{"revision", outcome.revision},
                   {"changes", response.changes_size()},
                   {"dry_run", request.dry_run()},
                   {"mode", v1::ApplyRequest::Mode_Name(request.mode())},
                   {"actor", actor}});
        return response;
      });
}

void RegistryService::ListServers(Done<v1::ListServersResponse> done, bool include_secrets,
                                  std::string actor) {
  RunOnPool<v1::ListServersResponse>(
      "list servers", std::move(done),
      [include_secrets, actor = std::move(actor)](
          ConfigStore& store) -> absl::StatusOr<v1::ListServersResponse> {
        SB_ASSIGN_OR_RETURN(v1::Snapshot snapshot, store.LoadSnapshot());
        v1::ListServersResponse response;
        response.mutable_servers()->Swap(snapshot.mutable_servers());
        if (include_secrets) {
          log::Info("server secrets read", {{"servers", response.servers_size()},
                                            {"actor", actor}});
          return response;
        }
        for (v1::Server& server : *response.mutable_servers()) BlankSecrets(&server);
        return response;
      });
}

void RegistryService::ListNamespaces(Done<v1::ListNamespacesResponse> done) {
  RunOnPool<v1::ListNamespacesResponse>(
      "list namespaces", std::move(done),
      [](ConfigStore& store) -> absl::StatusOr<v1::ListNamespacesResponse> {
        SB_ASSIGN_OR_RETURN(v1::Snapshot snapshot, store.LoadSnapshot());
        v1::ListNamespacesResponse response;
        response.mutable_namespaces()->Swap(snapshot.mutable_namespaces());
        return response;
      });
}

void RegistryService::ListEndpoints(Done<v1::ListEndpointsResponse> done) {
  RunOnPool<v1::ListEndpointsResponse>(
      "list endpoints", std::move(done),
      [](ConfigStore& store) -> absl::StatusOr<v1::ListEndpointsResponse> {
        SB_ASSIGN_OR_RETURN(v1::Snapshot snapshot, store.LoadSnapshot());
        v1::ListEndpointsResponse response;
        response.mutable_endpoints()->Swap(snapshot.mutable_endpoints());
        return response;
      });
}

void RegistryService::ListUsers(Done<v1::ListUsersResponse> done) {
  RunOnPool<v1::ListUsersResponse>("list users", std::move(done),
                                   [](ConfigStore& store) -> absl::StatusOr<v1::ListUsersResponse> {
                                     SB_ASSIGN_OR_RETURN(v1::Snapshot snapshot,
                                                         store.LoadSnapshot());
                                     v1::ListUsersResponse response;
                                     response.mutable_users()->Swap(snapshot.mutable_users());
                                     return response;
                                   });
}

void RegistryService::CreateApiKey(const v1::CreateApiKeyRequest& request,
                                   Done<v1::CreateApiKeyResponse> done, std::string actor) {
  if (request.user_email().empty()) {
    done(absl::InvalidArgumentError("user_email: required"));
    return;
  }
  if (request.expires_unix() < 0 ||
      (request.expires_unix() > 0 && request.expires_unix() <= std::time(nullptr))) {
    done(absl::InvalidArgumentError("expires_unix: must be in the future (or 0 for never)"));
    return;
  }
  std::string key;
  v1::ApiKey record;
  try {
    key = StrCat(kKeyPrefix, crypto::RandomHex(kKeyRandomBytes));
    record.set_id(crypto::RandomHex(16));
  } catch (const std::exception&) {
    done(absl::InternalError("cannot generate a random key"));
    return;
  }
  record.set_user_email(request.user_email());
  record.set_name(request.name().empty() ? "default" : request.name());
  record.set_prefix(key.substr(0, kShownPrefixLength));
  record.set_key_sha256(crypto::Sha256Hex(key));
  record.set_expires_unix(request.expires_unix());
  *record.mutable_endpoints() = request.endpoints();
  RunOnPool<v1::CreateApiKeyResponse>(
      "create api key", std::move(done),
      [this, record = std::move(record), key = std::move(key),
       actor = std::move(actor)](ConfigStore& store) -> absl::StatusOr<v1::CreateApiKeyResponse> {
        SB_ASSIGN_OR_RETURN(v1::ApiKey stored, store.InsertApiKey(record, actor));
        PublishAfterWrite(store);
        log::Info("api key created",
                  {{"id", stored.id()}, {"user", stored.user_email()}, {"actor", actor}});
        v1::CreateApiKeyResponse response;
        *response.mutable_api_key() = std::move(stored);
        response.set_key(key);
        return response;
      });
}

void RegistryService::Delete(v1::DeleteRequest request, Done<v1::DeleteResponse> done,
                             std::string actor, StoredCheck check) {
  switch (request.kind()) {
    case Change::SERVER:
    case Change::NAMESPACE:
    case Change::ENDPOINT:
    case Change::USER:
    case Change::API_KEY:
    case Change::TOOL_OVERRIDE:
      break;
    default:
      done(absl::InvalidArgumentError(
          "kind: must be SERVER, NAMESPACE, ENDPOINT, USER, API_KEY or TOOL_OVERRIDE"));
      return;
  }
  if (request.name().empty()) {
    done(absl::InvalidArgumentError("name: required"));
    return;
  }
  RunOnPool<v1::DeleteResponse>(
      "delete", std::move(done),
      [this, request = std::move(request), actor = std::move(actor),
       check = std::move(check)](ConfigStore& store) -> absl::StatusOr<v1::DeleteResponse> {
        SB_ASSIGN_OR_RETURN(int64_t revision,
                            store.Delete(request.kind(), request.name(), actor, check));
        PublishAfterWrite(store);
        log::Info("object deleted", {{"kind", ObjectField(request.kind())},
                                     {"name", request.name()},
                                     {"revision", revision},
                                     {"actor", actor}});
        v1::DeleteResponse response;
        response.set_revision(revision);
        return response;
      });
}

namespace {

bool Editable(Change::Kind kind) {
  return kind == Change::SERVER || kind == Change::NAMESPACE || kind == Change::ENDPOINT ||
         kind == Change::USER || kind == Change::TOOL_OVERRIDE;
}

}  // namespace

void RegistryService::Get(Change::Kind kind, std::string key, Done<StoredObject> done) {
  if (!Editable(kind)) {
    done(absl::InvalidArgumentError(
        "kind: must be SERVER, NAMESPACE, ENDPOINT, USER or TOOL_OVERRIDE"));
    return;
  }
  if (key.empty()) {
    done(absl::InvalidArgumentError("name: required"));
    return;
  }
  RunOnPool<StoredObject>(
      "get", std::move(done),
      [kind, key = std::move(key)](ConfigStore& store) -> absl::StatusOr<StoredObject> {
        SB_ASSIGN_OR_RETURN(StoredObject found, store.Get(kind, key));
        BlankSecrets(&found.object);
        return found;
      });
}

void RegistryService::Put(WriteMode mode, Change object, int64_t expected_revision,
                          std::string actor, Done<StoredObject> done, StoredCheck check) {
  if (!Editable(object.kind())) {
    done(absl::InvalidArgumentError(
        "kind: must be SERVER, NAMESPACE, ENDPOINT, USER or TOOL_OVERRIDE"));
    return;
  }
  if (mode == WriteMode::kUpdate && expected_revision <= 0) {
    done(absl::InvalidArgumentError(
        "expected_revision: required: the revision the object was read at (Get returns it)"));
    return;
  }
  RunOnPool<StoredObject>(
      mode == WriteMode::kCreate ? "create" : "update", std::move(done),
      [this, mode, object = std::move(object), expected_revision, actor = std::move(actor),
       check = std::move(check)](ConfigStore& store) -> absl::StatusOr<StoredObject> {
        SB_ASSIGN_OR_RETURN(StoredObject stored,
                            store.Put(mode, object, expected_revision, actor, check));
        PublishAfterWrite(store);
        log::Info(mode == WriteMode::kCreate ? "object created" : "object updated",
                  {{"kind", ObjectField(stored.object.kind())},
                   {"name", stored.object.name()},
                   {"revision", stored.revision},
                   {"actor", actor}});
        BlankSecrets(&stored.object);
        return stored;
      });
}

void RegistryService::ListToolOverrides(v1::ListToolOverridesRequest request,
                                        Done<v1::ListToolOverridesResponse> done) {
  RunOnPool<v1::ListToolOverridesResponse>(
      "list tool overrides", std::move(done),
      [request = std::move(request)](
          ConfigStore& store) -> absl::StatusOr<v1::ListToolOverridesResponse> {
        SB_ASSIGN_OR_RETURN(v1::Snapshot snapshot, store.LoadSnapshot());
        v1::ListToolOverridesResponse response;
        for (v1::ToolOverride& o : *snapshot.mutable_tool_overrides()) {
          if (!request.namespace_().empty() && o.namespace_() != request.namespace_()) continue;
          *response.add_tool_overrides() = std::move(o);
        }
        return response;
      });
}

void RegistryService::ListApiKeys(v1::ListApiKeysRequest request,
                                  Done<v1::ListApiKeysResponse> done) {
  RunOnPool<v1::ListApiKeysResponse>(
      "list api keys", std::move(done),
      [request =
           std::move(request)](ConfigStore& store) -> absl::StatusOr<v1::ListApiKeysResponse> {
        SB_ASSIGN_OR_RETURN(v1::Snapshot snapshot, store.LoadSnapshot());
        SB_ASSIGN_OR_RETURN(auto used, store.LoadApiKeyUse());
        v1::ListApiKeysResponse response;
        for (v1::ApiKey& key : *snapshot.mutable_api_keys()) {
          if (!request.user_email().empty() && key.user_email() != request.user_email()) continue;
          BlankSecrets(&key);
          if (auto it = used.find(key.id()); it != used.end()) key.set_last_used_unix(it->second);
          *response.add_api_keys() = std::move(key);
        }
        return response;
      });
}

void RegistryService::ListAudit(v1::ListAuditRequest request, Done<v1::ListAuditResponse> done) {
  if (absl::Status bad = CheckListBounds(request.limit(), request.since_unix()); !bad.ok()) {
    done(bad);
    return;
  }
  if (request.limit() == 0) request.set_limit(kDefaultAuditLimit);
  RunOnPool<v1::ListAuditResponse>(
      "list audit", std::move(done),
      [request = std::move(request)](ConfigStore& store) -> absl::StatusOr<v1::ListAuditResponse> {
        SB_ASSIGN_OR_RETURN(std::vector<v1::AuditEntry> entries, store.ListAudit(request));
        v1::ListAuditResponse response;
        for (v1::AuditEntry& e : entries) *response.add_entries() = std::move(e);
        return response;
      });
}

void RegistryService::RecordApiKeyUse(v1::RecordApiKeyUseRequest request,
                                      Done<v1::RecordApiKeyUseResponse> done) {
  constexpr int kMaxUses = 10000;
  if (request.uses_size() > kMaxUses) {
    done(absl::InvalidArgumentError(StrCat("uses: at most ", kMaxUses, " per call")));
    return;
  }
  RunOnPool<v1::RecordApiKeyUseResponse>(
      "record api key use", std::move(done),
      [request = std::move(request)](
          ConfigStore& store) -> absl::StatusOr<v1::RecordApiKeyUseResponse> {
        std::vector<v1::ApiKeyUse> uses(request.uses().begin(), request.uses().end());
        SB_RETURN_IF_ERROR(store.RecordApiKeyUse(uses));
        return v1::RecordApiKeyUseResponse();
      });
}

void RegistryService::RecordServerTools(v1::RecordServerToolsRequest request,
                                        Done<v1::RecordServerToolsResponse> done) {
  constexpr int kMaxServers = 1000;
  constexpr int kMaxTools = 10000;
  if (request.servers_size() > kMaxServers) {
    done(absl::InvalidArgumentError(StrCat("servers: at most ", kMaxServers, " per call")));
    return;
  }
  for (int i = 0; i < request.servers_size(); ++i) {
    if (request.servers(i).tools_size() > kMaxTools) {
      done(absl::InvalidArgumentError(
          StrCat("servers[", i, "].tools: at most ", kMaxTools, " per server")));
      return;
    }
  }
  RunOnPool<v1::RecordServerToolsResponse>(
      "record server tools", std::move(done),
      [request = std::move(request)](
          ConfigStore& store) -> absl::StatusOr<v1::RecordServerToolsResponse> {
        std::vector<v1::ServerTools> servers(request.servers().begin(), request.servers().end());
        SB_RETURN_IF_ERROR(store.RecordServerTools(servers));
        return v1::RecordServerToolsResponse();
      });
}

void RegistryService::RecordToolCalls(std::vector<std::pair<std::string, v1::ToolCall>> calls,
                                      Done<bool> done) {
  RunOnPool<bool>("record tool calls", std::move(done),
                  [calls = std::move(calls)](ConfigStore& store) -> absl::StatusOr<bool> {
                    SB_RETURN_IF_ERROR(store.RecordToolCalls(calls));
                    return true;
                  });
}

void RegistryService::ListToolCalls(v1::ListToolCallsRequest request,
                                    Done<v1::ListToolCallsResponse> done) {
  if (absl::Status bad = CheckListBounds(request.limit(), request.since_unix()); !bad.ok()) {
    done(bad);
    return;
  }
  if (request.limit() == 0) request.set_limit(kDefaultAuditLimit);
  RunOnPool<v1::ListToolCallsResponse>(
      "list tool calls", std::move(done),
      [request = std::move(request)](
          ConfigStore& store) -> absl::StatusOr<v1::ListToolCallsResponse> {
        SB_ASSIGN_OR_RETURN(std::vector<v1::ToolCall> calls, store.ListToolCalls(request));
        v1::ListToolCallsResponse response;
        for (v1::ToolCall& c : calls) *response.add_calls() = std::move(c);
        return response;
      });
}

void RegistryService::PublishAfterWrite(ConfigStore& store) {
  absl::StatusOr<v1::Snapshot> snapshot = store.LoadSnapshot();
  if (!snapshot.ok()) {
    log::Warn("cannot reload the configuration after a write; watchers catch up later",
              {{"error", MessageOf(snapshot.status())}});
    return;
  }
  hub_.Update(std::move(*snapshot));
}

void RegistryService::Refresh() {
  absl::StatusOr<int64_t> revision = follower_store_->LoadRevision();
  if (!revision.ok()) {
    log::Warn("cannot read the configuration revision", {{"error", MessageOf(revision.status())}});
    return;
  }
  if (*revision == hub_.revision()) return;
  absl::StatusOr<v1::Snapshot> snapshot = follower_store_->LoadSnapshot();
  if (!snapshot.ok()) {
    log::Warn("cannot load the configuration", {{"error", MessageOf(snapshot.status())}});
    return;
  }
  int64_t before = hub_.revision();
  int64_t loaded = snapshot->revision();
  size_t changes = hub_.Update(std::move(*snapshot));
  if (loaded <= before) return;  // a write on this replica already published it
  log::Info("configuration changed",
            {{"revision", loaded},
             {"changes", static_cast<uint64_t>(changes)},
             {"watchers", static_cast<uint64_t>(hub_.subscriber_count())}});
}

void RegistryService::Follow() {
  auto slice = std::min(kListenSlice, options_.poll_interval);
  auto last_check = std::chrono::steady_clock::now();
  bool failing = false;
  while (true) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
    }
    absl::StatusOr<bool> news = follower_store_->WaitForChange(slice);
    if (!news.ok()) {
      if (!failing) {
        log::Warn("change notifications lost; reconnecting", {{"error", MessageOf(news.status())}});
      }
      failing = true;
      std::unique_lock<std::mutex> lock(mu_);
      stop_cv_.wait_for(lock, options_.retry_backoff, [&] { return stopping_; });
      continue;
    }
    if (failing) log::Info("change notifications restored");
    failing = false;
    auto now = std::chrono::steady_clock::now();
    if (!*news && now - last_check < options_.poll_interval) continue;
    last_check = now;
    Refresh();
  }
}

}  // namespace switchboard::registry
