#include "services/router/src/router_service.h"

#include <google/protobuf/util/message_differencer.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/json.hpp>

#include "services/router/src/list_cursor.h"
#include "switchboard/common/crypto.h"
#include "switchboard/common/log.h"
#include "switchboard/common/strings.h"
#include "switchboard/jsonrpc/names.h"

namespace switchboard::router {

namespace asio = boost::asio;
namespace json = boost::json;
using jsonrpc::Envelope;
using jsonrpc::Span;

namespace {

bool IsMember(const registry::v1::Namespace& ns, std::string_view server) {
  for (const auto& m : ns.servers()) {
    if (m.server() == server) return !m.disabled();
  }
  return false;
}

std::string CancelledNotification(uint64_t id, std::string_view reason) {
  return jsonrpc::MakeNotification(
      "notifications/cancelled",
      StrCat(R"({"requestId":)", id, R"(,"reason":)", jsonrpc::EncodeString(reason), "}"));
}

// The answer to a request the client cancelled.
std::string CancelledByClient(std::string_view client_id) {
  return jsonrpc::MakeError(client_id, -32800, "Request cancelled by the client");
}

// Resource URIs remembered for routing; past this the map starts over (it is only a hint).
constexpr size_t kMaxKnownResources = 100000;

// The enabled members of a namespace, in order.
std::vector<std::string> EnabledMembers(const registry::v1::Namespace& ns) {
  std::vector<std::string> out;
  for (const auto& m : ns.servers()) {
    if (!m.disabled()) out.push_back(m.server());
  }
  return out;
}

// True when two definitions of a server reach it the same way (only the description differs).
bool SameConnection(const registry::v1::Server& a, const registry::v1::Server& b) {
  registry::v1::Server x = a;
  registry::v1::Server y = b;
  x.clear_description();
  y.clear_description();
  return google::protobuf::util::MessageDifferencer::Equals(x, y);
}

// True when namespace `ns` has the same tool overrides in both views.
bool SameToolOverrides(const configwatch::ConfigView& a, const configwatch::ConfigView& b,
                       std::string_view ns) {
  std::string prefix = StrCat(ns, "/");
  auto range = [&](const configwatch::ConfigView& v) {
    const auto& all = v.tool_overrides();
    auto first = all.lower_bound(prefix);
    auto last = first;
    while (last != all.end() && last->first.compare(0, prefix.size(), prefix) == 0) ++last;
    return std::make_pair(first, last);
  };
  auto [a_it, a_end] = range(a);
  auto [b_it, b_end] = range(b);
  for (; a_it != a_end && b_it != b_end; ++a_it, ++b_it) {
    if (a_it->first != b_it->first ||
        !google::protobuf::util::MessageDifferencer::Equals(a_it->second, b_it->second)) {
      return false;
    }
  }
  return a_it == a_end && b_it == b_end;
}

int64_t UnixMillis(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

}  // namespace

// One client's merged list: the servers it covers, from the cursor's position on, and their
// lists as they arrive.
struct RouterService::ListAggregate {
  uint64_t id = 0;
  Pending origin;  // who asked
  std::string method;
  std::string array_key;
  std::shared_ptr<const configwatch::ConfigView> config;  // as of the request
  std::string ns;
  bool prefix = true;
  std::vector<std::string> servers;  // in namespace order: every enabled member
  size_t first_server = 0;           // the server the page starts at (the cursor's)
  size_t first_index = 0;            // where in that server's list the page starts
  std::map<std::string, std::shared_ptr<const json::array>, std::less<>> parts;
  size_t outstanding = 0;
  bool done = false;
};

// Asking one server for its whole list (following its pages) on behalf of the cache.
struct RouterService::Fill {
  std::string server;
  std::string method;
  json::array items;
  std::chrono::steady_clock::time_point started;
  std::vector<std::shared_ptr<ListAggregate>> waiters;
};

const std::vector<std::string>& RouterService::SupportedVersions() {
  static const std::vector<std::string> kVersions = {"2024-11-05", "2025-03-26", "2025-06-18",
                                                     "2025-11-25"};
  return kVersions;
}

RouterService::RouterService(asio::any_io_executor executor, ConfigSource config,
                             UpstreamFactory* upstreams, RouterOptions options)
    : executor_(std::move(executor)),
      config_(std::move(config)),
      factory_(upstreams),
      options_(std::move(options)) {
  seen_config_ = config_();
}

RouterService::~RouterService() { *alive_ = false; }

void RouterService::Handle(std::shared_ptr<ClientSink> sink, router::v1::RouterRequest request) {
  asio::post(executor_, [this, alive = std::weak_ptr<bool>(alive_), sink = std::move(sink),
                         request = std::move(request)]() mutable {
    if (alive.expired()) return;
    HandleOnExecutor(std::move(sink), std::move(request));
  });
}

void RouterService::Detach(const ClientSink* sink) {
  asio::post(executor_, [this, alive = std::weak_ptr<bool>(alive_), sink] {
    if (alive.expired()) return;
    CancelWhere([sink](const Pending& p) { return p.sink_key == sink; }, "client went away");
  });
}

void RouterService::OnConfigChange(std::shared_ptr<const configwatch::ConfigView> view) {
  asio::post(executor_, [this, alive = std::weak_ptr<bool>(alive_), view = std::move(view)] {
    if (alive.expired()) return;
    ApplyConfigChange(view);
  });
}

void RouterService::Shutdown() {
  for (auto& [server, up] : upstreams_) {
    up.pending.Drain([](uint64_t, Pending&) {});
    up.connection->Close();
  }
  upstreams_.clear();
}

void RouterService::HandleOnExecutor(std::shared_ptr<ClientSink> sink,
                                     router::v1::RouterRequest request) {
  if (request.cancel()) {
    CancelCall(sink.get(), request.call_id());
    return;
  }
  Call call;
  call.sink = std::move(sink);
  call.request = std::move(request);
  jsonrpc::ScanError err;
  const std::string& message = call.request.message();
  if (!jsonrpc::Scan(message, &call.envelope, &err)) {
    Reply(call, jsonrpc::MakeError(err.raw_id, err.code, err.message));
    return;
  }
  call.stateless = call.request.session_id().empty() &&
                   call.request.protocol_version() == kStatelessVersion;
  if (call.stateless) call.client = ReadStatelessClient(message, call.envelope.params);
  call.config = config_();
  if (call.config != nullptr) {
    const auto* endpoint = call.config->FindEndpoint(call.request.endpoint());
    if (endpoint != nullptr) call.ns = call.config->FindNamespace(endpoint->namespace_());
  }
  NoteSession(call);
  if (call.envelope.kind == jsonrpc::Kind::kRequest) {
    call.trace = StartCallSpan(call.request, call.envelope);
  }
  std::optional<telemetry::ScopedActive> active;
  if (call.trace) active.emplace(call.trace->span);
  // The edge names the endpoint and the authenticated user of every message it forwards.
  log::ScopedRequest request_log(call.request.endpoint(), call.request.principal().user_email());
  CallSpan outer = std::exchange(active_trace_, call.trace);
  switch (call.envelope.kind) {
    case jsonrpc::Kind::kRequest:
      HandleRequest(call);
      break;
    case jsonrpc::Kind::kNotification:
      HandleNotification(call);
      break;
    case jsonrpc::Kind::kResponse:
      RelayClientResponse(call);
      break;
  }
  active_trace_ = std::move(outer);
}

void RouterService::Reply(const Call& call, std::string message) {
  call.sink->Send(call.request.call_id(), std::move(message), true);
}

void RouterService::HandleRequest(Call& call) {
  const std::string& method = call.envelope.method;
  std::string raw_id(call.envelope.id.In(call.request.message()));
  log::Debug("client request", {{"method", method}});
  if (call.stateless && IsRemovedInStateless(method)) {
    Reply(call, jsonrpc::MakeError(raw_id, jsonrpc::kMethodNotFound,
                                   StrCat("Method not found: ", method, " (not in ",
                                          kStatelessVersion, ")")));
    return;
  }
  if (method == "ping") {
    Reply(call, jsonrpc::MakeResult(raw_id, "{}"));
    return;
  }
  if (method == kStatusMethod) {
    // Only for an administrator; to anyone else the method does not exist.
    const registry::v1::User* user =
        call.config ? call.config->FindUser(call.request.principal().user_email()) : nullptr;
    Reply(call, user != nullptr && user->is_admin()
                    ? jsonrpc::MakeResult(raw_id, StatusJson())
                    : jsonrpc::MakeError(raw_id, jsonrpc::kMethodNotFound,
                                         StrCat("Method not found: ", method)));
    return;
  }
  if (call.ns == nullptr) {
    Reply(call, jsonrpc::MakeError(raw_id, jsonrpc::kInvalidRequest,
                                   StrCat("unknown endpoint '", call.request.endpoint(), "'")));
    return;
  }
  if (call.stateless && !call.envelope.params.empty() &&
      call.request.message()[call.envelope.params.pos] == '{') {
    if (auto state = jsonrpc::FindMember(call.request.message(), call.envelope.params,
                                         "requestState")) {
      ResumeWithInput(call, *state);
      return;
    }
  }
  if (method == "initialize") {
    Initialize(call);
  } else if (method == "server/discover" && call.stateless) {
    Discover(call);
  } else if (method == "tools/list") {
    StartList(call, "tools");
  } else if (method == "prompts/list") {
    StartList(call, "prompts");
  } else if (method == "resources/list") {
    StartList(call, "resources");
  } else if (method == "resources/templates/list") {
    StartList(call, "resourceTemplates");
  } else if (method == "tools/call" || method == "prompts/get") {
    RouteByName(call);
  } else if (method == "resources/read" || method == "resources/subscribe" ||
             method == "resources/unsubscribe") {
    RouteByUri(call);
  } else if (method == "completion/complete") {
    RouteCompletion(call);
  } else if (method == "logging/setLevel") {
    SetLevel(call);
  } else {
    Reply(call, jsonrpc::MakeError(raw_id, jsonrpc::kMethodNotFound,
                                   StrCat("Method not found: ", method)));
  }
}

void RouterService::HandleNotification(Call& call) {
  if (call.envelope.method != "notifications/cancelled" || call.envelope.params.empty()) return;
  const std::string& message = call.request.message();
  auto request_id = jsonrpc::FindMember(message, call.envelope.params, "requestId");
  if (!request_id) return;
  std::string_view client_id = request_id->In(message);
  if (call.request.session_id().empty()) return;
  for (auto it = open_lists_.begin(); it != open_lists_.end(); ++it) {
    ListAggregate& list = *it->second;
    if (list.origin.session_id != call.request.session_id() || list.origin.client_id != client_id) {
      continue;
    }
    list.done = true;
    if (auto sink = list.origin.sink.lock()) {
      sink->Send(list.origin.call_id, CancelledByClient(list.origin.client_id), true);
    }
    open_lists_.erase(it);
    return;
  }
  for (auto& [server, up] : upstreams_) {
    uint64_t found = 0;
    up.pending.ForEach([&](uint64_t id, const Pending& p) {
      if (p.session_id == call.request.session_id() && p.client_id == client_id) {
        found = id;
      }
    });
    if (found == 0) continue;
    auto p = up.pending.Take(found);
    up.connection->Send(CancelledNotification(found, "cancelled by the client"));
    if (auto sink = p->sink.lock()) {
      sink->Send(p->call_id, CancelledByClient(p->client_id), true);
    }
    return;
  }
}

void RouterService::Initialize(Call& call) {
  const std::string& message = call.request.message();
  std::string version = SupportedVersions().back();
  if (!call.envelope.params.empty()) {
    if (auto v = jsonrpc::FindMember(message, call.envelope.params, "protocolVersion")) {
      std::optional<std::string> requested = jsonrpc::DecodeString(v->In(message));
      const auto& supported = SupportedVersions();
      if (requested && std::find(supported.begin(), supported.end(), *requested) != supported.end()) {
        version = *requested;
      }
    }
  }
  json::object result;
  result["protocolVersion"] = version;
  json::object caps = Capabilities();
  // Session messages (list_changed, resources/updated) reach clients on the edge's GET stream.
  caps["resources"] = json::object{{"subscribe", true}, {"listChanged", true}};
  caps["tools"] = json::object{{"listChanged", true}};
  caps["prompts"] = json::object{{"listChanged", true}};
  result["capabilities"] = std::move(caps);
  result["serverInfo"] = ServerInfo(call);
  if (!call.ns->description().empty()) result["instructions"] = call.ns->description();
  Reply(call, jsonrpc::MakeResult(call.envelope.id.In(message), json::serialize(result)));

  // Warm the namespace's upstreams so the first list or call does not pay for a cold start.
  for (const auto& member : call.ns->servers()) {
    if (member.disabled()) continue;
    if (const auto* server = call.config->FindServer(member.server())) GetUpstream(*server);
  }
}

json::object RouterService::Capabilities() const {
  json::object caps;
  caps["resources"] = json::object();
  caps["tools"] = json::object();
  caps["prompts"] = json::object();
  caps["completions"] = json::object();
  caps["logging"] = json::object();
  return caps;
}

json::object RouterService::ServerInfo(const Call& call) const {
  json::object info;
  info["name"] = "switchboard";
  info["title"] = StrCat("Switchboard: ", call.ns->name());
  info["version"] = options_.version;
  return info;
}

void RouterService::Discover(Call& call) {
  json::object result;
  json::array versions;
  for (const std::string& v : SupportedVersions()) versions.emplace_back(v);
  versions.emplace_back(kStatelessVersion);
  result["supportedVersions"] = std::move(versions);
  // Without a session there is no stream for list_changed or resources/updated yet, so neither
  // is offered.
  result["capabilities"] = Capabilities();
  result["_meta"] = json::object{{"io.modelcontextprotocol/serverInfo", ServerInfo(call)}};
  if (!call.ns->description().empty()) result["instructions"] = call.ns->description();
  Reply(call, MarkComplete(jsonrpc::MakeResult(call.envelope.id.In(call.request.message()),
                                               json::serialize(result)),
                           "server/discover"));
}

void RouterService::ResumeWithInput(Call& call, Span state_span) {
  const std::string& message = call.request.message();
  std::string raw_id(call.envelope.id.In(message));
  auto refuse = [&] {
    Reply(call, jsonrpc::MakeError(raw_id, jsonrpc::kInvalidParams,
                                   "Invalid params: requestState is unknown or has expired"));
  };
  // requestState is "sbm-<relay>-<random>": the relay finds the question, the random part
  // proves the client was handed it.
  std::optional<std::string> state = jsonrpc::DecodeString(state_span.In(message));
  if (!state || state->rfind("sbm-", 0) != 0) return refuse();
  std::string_view rest = std::string_view(*state).substr(4);
  std::optional<uint64_t> relay_id = jsonrpc::ParseUintId(rest.substr(0, rest.find('-')));
  auto it = relay_id ? relays_.find(*relay_id) : relays_.end();
  if (it == relays_.end() || it->second.request_state != *state ||
      it->second.user != call.request.principal().user_email()) {
    return refuse();
  }
  Relay& relay = it->second;
  auto up = upstreams_.find(relay.server);
  Pending* parked = up == upstreams_.end() || up->second.generation != relay.generation
                        ? nullptr
                        : up->second.pending.Find(relay.parked);
  if (parked == nullptr) {
    relays_.erase(it);
    return refuse();
  }
  std::string key = StrCat("sbr-", it->first);
  std::optional<Span> answer;
  if (auto responses = jsonrpc::FindMember(message, call.envelope.params, "inputResponses");
      responses && message[responses->pos] == '{') {
    answer = jsonrpc::FindMember(message, *responses, key);
  }
  if (!answer) {
    // Not answered (yet): the question stands.
    Reply(call, InputRequired(raw_id, key, relay.method, relay.params, relay.request_state));
    return;
  }
  Relay done = std::move(relay);
  relays_.erase(it);
  // The retried call takes over the parked request: its answer, progress and logs go there.
  parked->sink = call.sink;
  parked->sink_key = call.sink.get();
  parked->call_id = call.request.call_id();
  parked->client_id = raw_id;
  parked->client = call.client;
  std::optional<Span> token = jsonrpc::FindProgressToken(message, call.envelope.params);
  parked->progress_token = token ? std::string(token->In(message)) : std::string();
  ArmTimer(done.server, done.parked, *parked, options_.request_timeout_ms);
  up->second.connection->Send(jsonrpc::MakeResult(done.upstream_id, answer->In(message)));
}

RouterService::UpstreamState* RouterService::GetUpstream(const registry::v1::Server& server) {
  auto it = upstreams_.find(server.name());
  if (it != upstreams_.end()) return &it->second;
  if (server.type() != "STDIO" && server.type() != "SSE" && server.type() != "STREAMABLE_HTTP") {
    return nullptr;
  }
  uint64_t generation = next_generation_++;
  std::weak_ptr<bool> alive = alive_;
  UpstreamEvents events;
  events.on_message = [this, alive, name = server.name(), generation](std::string message) {
    if (!alive.expired()) OnUpstreamMessage(name, generation, std::move(message));
  };
  events.on_scoped_message = [this, alive, name = server.name(), generation](
                                 std::string message, std::string user, std::string session) {
    if (!alive.expired()) {
      OnUpstreamMessage(name, generation, std::move(message),
                        Audience{std::move(user), std::move(session)});
    }
  };
  events.on_closed = [this, alive, name = server.name(), generation](std::string reason) {
    if (!alive.expired()) OnUpstreamClosed(name, generation, std::move(reason));
  };
  UpstreamState state;
  state.generation = generation;
  state.connection = factory_->Connect(server, std::move(events));
  return &upstreams_.emplace(server.name(), std::move(state)).first->second;
}

void RouterService::ArmTimer(const std::string& server, uint64_t id, Pending& pending,
                             int64_t timeout_ms) {
  if (!pending.timer) pending.timer = std::make_unique<asio::steady_timer>(executor_);
  pending.timer->expires_after(std::chrono::milliseconds(timeout_ms));
  pending.timer->async_wait(
      [this, alive = std::weak_ptr<bool>(alive_), server, id](boost::system::error_code ec) {
        if (ec || alive.expired()) return;
        OnTimeout(server, id);
      });
}

void RouterService::StartList(Call& call, std::string_view array_key) {
  const std::string& message = call.request.message();
  auto list = std::make_shared<ListAggregate>();
  list->origin = PendingFor(call, call.envelope.id.In(message));
  list->method = call.envelope.method;
  list->array_key = std::string(array_key);
  list->config = call.config;
  list->ns = call.ns->name();
  list->prefix = !call.ns->disable_prefix();
  std::optional<ListPosition> position;
  if (!call.envelope.params.empty()) {
    if (auto cursor = jsonrpc::FindMember(message, call.envelope.params, "cursor")) {
      std::optional<std::string> text = jsonrpc::DecodeString(cursor->In(message));
      if (text) position = DecodeListCursor(list->method, *text);
      if (!position) {
        Reply(call, jsonrpc::MakeError(list->origin.client_id, jsonrpc::kInvalidParams,
                                       "Invalid cursor"));
        return;
      }
    }
  }
  for (const std::string& name : EnabledMembers(*call.ns)) {
    const auto* server = call.config->FindServer(name);
    if (server == nullptr) continue;
    if (GetUpstream(*server) == nullptr) {
      log::Warn("server type not reachable yet; left out of the list",
                {{"server", server->name()}, {"type", server->type()}});
      continue;
    }
    list->servers.push_back(server->name());
  }
  if (position) {
    auto at = std::find(list->servers.begin(), list->servers.end(), position->server);
    if (at == list->servers.end()) {
      // The server the page was to start at has left the namespace since.
      Reply(call, jsonrpc::MakeError(list->origin.client_id, jsonrpc::kInvalidParams,
                                     "Invalid cursor: the list has changed; list again"));
      return;
    }
    // The servers before it are still asked (from the cache, normally): an item they show
    // hides a later one with the same name or URI, on every page alike.
    list->first_server = static_cast<size_t>(at - list->servers.begin());
    list->first_index = position->index;
  }
  list->id = next_list_++;
  open_lists_[list->id] = list;
  for (const std::string& server : list->servers) {
    ServerList& cached = lists_[server][list->method];
    if (cached.items != nullptr) {
      list->parts[server] = cached.items;
      continue;
    }
    if (cached.filling == nullptr) StartFill(server, upstreams_.find(server)->second, list->method);
    cached.filling->waiters.push_back(list);
    ++list->outstanding;
  }
  if (list->outstanding == 0) FinishList(*list);
}

void RouterService::StartFill(const std::string& server, UpstreamState& up,
                              const std::string& method) {
  ServerList& cached = lists_[server][method];
  auto fill = std::make_shared<Fill>();
  fill->server = server;
  fill->method = method;
  fill->started = std::chrono::steady_clock::now();
  cached.filling = fill;
  Pending p;
  p.fill = fill;
  p.upstream = std::make_unique<UpstreamCall>(active_trace_, server, method);
  uint64_t id = up.pending.Add(std::move(p));
  ArmTimer(server, id, *up.pending.Find(id), options_.list_timeout_ms);
  ScopedUpstream traced(up.pending.Find(id)->upstream.get());
  up.connection->Send(jsonrpc::MakeRequest(std::to_string(id), method, ""));
}

RouterService::Pending RouterService::PendingFor(const Call& call, std::string_view client_id) {
  Pending p;
  p.sink = call.sink;
  p.sink_key = call.sink.get();
  p.call_id = call.request.call_id();
  p.session_id = call.request.session_id();
  p.client_id = std::string(client_id);
  p.user = call.request.principal().user_email();
  p.trace = call.trace;
  if (call.stateless) {
    p.stateless_method = call.envelope.method;
    p.client = call.client;
  }
  return p;
}

const registry::v1::Server* RouterService::ResolvePrefixed(const Call& call,
                                                           std::string_view full,
                                                           std::string_view* inner) const {
  std::string_view server_name;
  if (call.ns->disable_prefix()) {
    for (const auto& m : call.ns->servers()) {
      if (!m.disabled()) {
        *inner = full;
        return call.config->FindServer(m.server());
      }
    }
    return nullptr;
  }
  if (!jsonrpc::SplitPrefixedName(full, &server_name, inner)) return nullptr;
  if (!IsMember(*call.ns, server_name)) return nullptr;
  return call.config->FindServer(server_name);
}

void RouterService::Forward(const std::string& server, UpstreamState& up, Pending pending,
                            std::string_view message, const Envelope& env,
                            std::vector<jsonrpc::Edit> edits) {
  std::optional<Span> token_span = jsonrpc::FindProgressToken(message, env.params);
  if (token_span) pending.progress_token = std::string(token_span->In(message));
  const std::string user = pending.user;
  const std::string session = pending.session_id;
  pending.upstream = std::make_unique<UpstreamCall>(pending.trace ? pending.trace : active_trace_,
                                                    server, env.method);
  uint64_t id = up.pending.Add(std::move(pending));
  edits.push_back({env.id, std::to_string(id)});
  if (token_span) edits.push_back({*token_span, std::to_string(id)});
  ArmTimer(server, id, *up.pending.Find(id), options_.request_timeout_ms);
  ScopedUpstream traced(up.pending.Find(id)->upstream.get());
  up.connection->SendFor(jsonrpc::Replace(message, std::move(edits)), user, session);
}

void RouterService::RouteByName(Call& call) {
  const std::string& message = call.request.message();
  const Envelope& env = call.envelope;
  std::optional<Span> name_span;
  if (!env.params.empty()) name_span = jsonrpc::FindMember(message, env.params, "name");
  RouteToNamed(call, name_span, env.method == "tools/call" ? "tool" : "prompt", "params.name");
}

void RouterService::RouteToNamed(Call& call, std::optional<Span> name_span,
                                 std::string_view kind, std::string_view field) {
  const std::string& message = call.request.message();
  std::string raw_id(call.envelope.id.In(message));
  std::optional<std::string> name;
  if (name_span) name = jsonrpc::DecodeString(name_span->In(message));
  if (!name) {
    Reply(call, jsonrpc::MakeError(raw_id, jsonrpc::kInvalidParams, StrCat(field, " is required")));
    return;
  }
  std::string_view inner_name;
  const registry::v1::Server* server = nullptr;
  if (kind == "tool") {
    // A tool renamed by an override is called by its new name.
    const auto* renamed = call.config->FindToolOverrideByName(call.ns->name(), *name);
    if (renamed != nullptr && !renamed->disabled() && IsMember(*call.ns, renamed->server())) {
      server = call.config->FindServer(renamed->server());
      inner_name = renamed->tool();
    }
  }
  if (server == nullptr) {
    server = ResolvePrefixed(call, *name, &inner_name);
    const auto* override =
        server != nullptr && kind == "tool"
            ? call.config->FindToolOverride(call.ns->name(), server->name(), inner_name)
            : nullptr;
    // A disabled tool does not exist, and a renamed one answers only to its new name.
    if (override != nullptr && (override->disabled() || !override->name().empty())) {
      server = nullptr;
    }
  }
  if (server == nullptr) {
    Reply(call, jsonrpc::MakeError(raw_id, jsonrpc::kInvalidParams,
                                   StrCat(kind == "tool" ? "Unknown tool: " : "Unknown prompt: ",
                                          *name)));
    return;
  }
  UpstreamState* up = GetUpstream(*server);
  if (up == nullptr) {
    Reply(call, jsonrpc::MakeError(raw_id, jsonrpc::kUpstreamUnavailable,
                                   StrCat("MCP server '", server->name(), "' of type ",
                                          server->type(), " is not supported")));
    return;
  }
  std::vector<jsonrpc::Edit> edits;
  if (inner_name != *name) edits.push_back({*name_span, jsonrpc::EncodeString(inner_name)});
  Forward(server->name(), *up, PendingFor(call, raw_id), message, call.envelope,
          std::move(edits));
}

std::vector<std::string> RouterService::ResourceCandidates(const Call& call,
                                                           std::string_view uri) const {
  std::vector<std::string> out;
  auto add = [&](const std::string& server) {
    if (!IsMember(*call.ns, server)) return;
    if (std::find(out.begin(), out.end(), server) == out.end()) out.push_back(server);
  };
  // The servers that listed the URI, in namespace order: the first is the one whose resource
  // the merged list shows.
  if (auto it = resource_owner_.find(uri); it != resource_owner_.end()) {
    for (const auto& m : call.ns->servers()) {
      if (std::find(it->second.begin(), it->second.end(), m.server()) != it->second.end()) {
        add(m.server());
      }
    }
  }
  for (const auto& [prefix, server] : template_owner_) {
    if (!prefix.empty() && uri.substr(0, prefix.size()) == prefix) add(server);
  }
  for (const auto& m : call.ns->servers()) {
    if (!m.disabled()) add(m.server());
  }
  return out;
}

void RouterService::RouteByUri(Call& call) {
  const std::string& message = call.request.message();
  std::optional<std::string> uri;
  if (!call.envelope.params.empty()) {
    if (auto span = jsonrpc::FindMember(message, call.envelope.params, "uri")) {
      uri = jsonrpc::DecodeString(span->In(message));
    }
  }
  RouteToResource(call, uri, "params.uri");
}

void RouterService::RouteToResource(Call& call, const std::optional<std::string>& uri,
                                    std::string_view field) {
  const std::string& message = call.request.message();
  std::string raw_id(call.envelope.id.In(message));
  if (!uri) {
    Reply(call, jsonrpc::MakeError(raw_id, jsonrpc::kInvalidParams, StrCat(field, " is required")));
    return;
  }
  std::vector<std::string> candidates = ResourceCandidates(call, *uri);
  std::erase_if(candidates, [&](const std::string& name) {
    const auto* server = call.config->FindServer(name);
    return server == nullptr || GetUpstream(*server) == nullptr;
  });
  if (candidates.empty()) {
    Reply(call, jsonrpc::MakeError(raw_id, jsonrpc::kInvalidParams,
                                   StrCat("Resource not found: ", *uri)));
    return;
  }
  Pending p = PendingFor(call, raw_id);
  std::string first = candidates.front();
  candidates.erase(candidates.begin());
  if (!candidates.empty()) {
    p.retry_message = message;
    p.candidates = std::move(candidates);
  }
  Forward(first, upstreams_.find(first)->second, std::move(p), message, call.envelope, {});
}

void RouterService::RouteCompletion(Call& call) {
  const std::string& message = call.request.message();
  const Envelope& env = call.envelope;
  std::optional<Span> ref;
  if (!env.params.empty()) ref = jsonrpc::FindMember(message, env.params, "ref");
  if (!ref || message[ref->pos] != '{') {
    Reply(call, jsonrpc::MakeError(env.id.In(message), jsonrpc::kInvalidParams,
                                   "params.ref is required"));
    return;
  }
  std::optional<std::string> type;
  if (auto type_span = jsonrpc::FindMember(message, *ref, "type")) {
    type = jsonrpc::DecodeString(type_span->In(message));
  }
  if (type && *type == "ref/resource") {
    std::optional<std::string> uri;
    if (auto uri_span = jsonrpc::FindMember(message, *ref, "uri")) {
      uri = jsonrpc::DecodeString(uri_span->In(message));
    }
    RouteToResource(call, uri, "ref.uri");
    return;
  }
  RouteToNamed(call, jsonrpc::FindMember(message, *ref, "name"), "prompt", "ref.name");
}

void RouterService::SetLevel(Call& call) {
  const std::string& message = call.request.message();
  const Envelope& env = call.envelope;
  std::optional<std::string> level;
  if (!env.params.empty()) {
    if (auto span = jsonrpc::FindMember(message, env.params, "level")) {
      level = jsonrpc::DecodeString(span->In(message));
    }
  }
  int rank = level ? LogLevelRank(*level) : -1;
  if (rank < 0) {
    Reply(call, jsonrpc::MakeError(env.id.In(message), jsonrpc::kInvalidParams,
                                   "Invalid params: level must be one of debug, info, notice, "
                                   "warning, error, critical, alert, emergency"));
    return;
  }
  // Servers are shared, so the level is each session's own: the router passes a session only
  // the log messages at or above its level, and sets each server to the lowest level any
  // session it serves asked for.
  auto session = sessions_.find(call.request.session_id());
  if (session != sessions_.end()) session->second.log_level = rank;
  for (const auto& m : call.ns->servers()) {
    if (m.disabled()) continue;
    const auto* server = call.config->FindServer(m.server());
    UpstreamState* up = server ? GetUpstream(*server) : nullptr;
    if (up == nullptr) continue;
    int lowest = rank;
    for (const auto& [id, info] : sessions_) {
      if (info.log_level < 0 || info.log_level >= lowest) continue;
      const auto* ep = call.config->FindEndpoint(info.endpoint);
      const auto* ns = ep ? call.config->FindNamespace(ep->namespace_()) : nullptr;
      if (ns != nullptr && IsMember(*ns, server->name())) lowest = info.log_level;
    }
    if (up->log_level == lowest) continue;
    up->log_level = lowest;
    std::string request = jsonrpc::MakeRequest(
        "0", "logging/setLevel",
        StrCat(R"({"level":)", jsonrpc::EncodeString(LogLevelName(lowest)), "}"));
    Envelope request_env;
    jsonrpc::ScanError error;
    if (!jsonrpc::Scan(request, &request_env, &error)) continue;
    Pending p;
    p.discard = true;
    p.sink_key = call.sink.get();
    Forward(server->name(), *up, std::move(p), request, request_env, {});
  }
  Reply(call, jsonrpc::MakeResult(env.id.In(message), "{}"));
}

void RouterService::CancelCall(const ClientSink* sink, uint64_t call_id) {
  CancelWhere([&](const Pending& p) { return p.sink_key == sink && p.call_id == call_id; },
              "cancelled");
}

void RouterService::CancelWhere(const std::function<bool(const Pending&)>& pred,
                                std::string_view reason) {
  for (auto& [server, up] : upstreams_) {
    std::vector<uint64_t> ids;
    up.pending.ForEach([&](uint64_t id, const Pending& p) {
      if (pred(p)) ids.push_back(id);
    });
    for (uint64_t id : ids) {
      std::optional<Pending> p = up.pending.Take(id);
      if (!p->discard) up.connection->Send(CancelledNotification(id, reason));
    }
  }
  // Merged lists wait on fills shared with others, which go on: only the list is dropped.
  std::erase_if(open_lists_, [&](const auto& entry) {
    if (!pred(entry.second->origin)) return false;
    entry.second->done = true;
    return true;
  });
}

void RouterService::OnUpstreamMessage(const std::string& server, uint64_t generation,
                                      std::string message, const Audience& audience) {
  auto it = upstreams_.find(server);
  if (it == upstreams_.end() || it->second.generation != generation) return;
  UpstreamState& up = it->second;
  Envelope env;
  jsonrpc::ScanError err;
  if (!jsonrpc::Scan(message, &env, &err)) {
    log::Warn("dropped a malformed message from an upstream", {{"server", server}});
    return;
  }
  if (env.kind == jsonrpc::Kind::kResponse) {
    auto id = jsonrpc::ParseUintId(env.id.In(message));
    std::optional<Pending> pending;
    if (id) pending = up.pending.Take(*id);
    if (!pending) return;  // late answer to a call that timed out or was cancelled
    if (pending->upstream) pending->upstream->Finish(message, env);
    if (pending->fill) {
      DeliverFillPage(server, up, std::move(*pending), message, env);
      return;
    }
    if (pending->discard) return;
    if (!env.error.empty() && !pending->candidates.empty()) {
      // Not this server's resource: ask the next one in namespace order.
      std::string next = pending->candidates.front();
      pending->candidates.erase(pending->candidates.begin());
      auto next_up = upstreams_.find(next);
      Envelope retry_env;
      jsonrpc::ScanError retry_err;
      if (next_up != upstreams_.end() &&
          jsonrpc::Scan(pending->retry_message, &retry_env, &retry_err)) {
        std::string retry = std::move(pending->retry_message);
        pending->retry_message = pending->candidates.empty() ? std::string() : retry;
        pending->timer.reset();
        pending->progress_token.clear();
        Forward(next, next_up->second, std::move(*pending), retry, retry_env, {});
        return;
      }
    }
    if (auto sink = pending->sink.lock()) {
      std::string reply = jsonrpc::Replace(message, env.id, pending->client_id);
      if (!pending->stateless_method.empty()) {
        reply = MarkComplete(std::move(reply), pending->stateless_method);
      }
      sink->Send(pending->call_id, std::move(reply), true);
    }
    return;
  }
  if (env.kind == jsonrpc::Kind::kNotification && env.method == "notifications/progress" &&
      !env.params.empty()) {
    auto token = jsonrpc::FindMember(message, env.params, "progressToken");
    if (!token) return;
    auto id = jsonrpc::ParseUintId(token->In(message));
    Pending* pending = id ? up.pending.Find(*id) : nullptr;
    if (pending == nullptr || pending->progress_token.empty()) return;
    ArmTimer(server, *id, *pending, options_.request_timeout_ms);
    if (auto sink = pending->sink.lock()) {
      sink->Send(pending->call_id, jsonrpc::Replace(message, *token, pending->progress_token),
                 false);
    }
    return;
  }
  if (env.kind == jsonrpc::Kind::kRequest) {
    RelayServerRequest(server, up, message, env);
    return;
  }
  if (env.method == "notifications/tools/list_changed" ||
      env.method == "notifications/prompts/list_changed" ||
      env.method == "notifications/resources/list_changed" ||
      env.method == "notifications/resources/updated") {
    if (env.method == "notifications/tools/list_changed") {
      InvalidateLists(server, "tools/list");
    } else if (env.method == "notifications/prompts/list_changed") {
      InvalidateLists(server, "prompts/list");
    } else if (env.method == "notifications/resources/list_changed") {
      InvalidateLists(server, "resources/list");
      InvalidateLists(server, "resources/templates/list");
    }
    FanOutToSessions(server, message, env, audience);
    return;
  }
  if (env.method == "notifications/message") {
    // A log line is related to the call it was written during; with several calls in flight
    // on a shared server it cannot be placed, and is not shown to a client it may not concern.
    if (Pending* only = OnlyCallInFlight(up)) {
      // A client gets log messages only at or above its level: a stateless one's _meta
      // logLevel (none without one), a session's logging/setLevel (all until it sets one).
      int wanted = -1;
      if (!only->stateless_method.empty()) {
        if (only->client.log_level < 0) return;
        wanted = only->client.log_level;
      } else if (auto s = sessions_.find(only->session_id); s != sessions_.end()) {
        wanted = s->second.log_level;
      }
      if (wanted >= 0) {
        std::optional<Span> level;
        if (!env.params.empty()) level = jsonrpc::FindMember(message, env.params, "level");
        int rank =
            level ? LogLevelRank(jsonrpc::DecodeString(level->In(message)).value_or("")) : -1;
        if (rank < wanted) return;
      }
      if (auto sink = only->sink.lock()) sink->Send(only->call_id, std::move(message), false);
    }
    return;
  }
  log::Debug("upstream message not routed yet", {{"server", server}, {"method", env.method}});
}

void RouterService::NoteSession(const Call& call) {
  const std::string& session_id = call.request.session_id();
  if (session_id.empty() || call.ns == nullptr) return;
  auto now = std::chrono::steady_clock::now();
  auto it = sessions_.find(session_id);
  if (it == sessions_.end()) {
    if (sessions_.size() >= options_.max_sessions) {
      // Forget the sessions idle longest (or, failing that, any) to stay bounded.
      auto idle = std::chrono::milliseconds(options_.session_idle_ms);
      std::erase_if(sessions_, [&](const auto& e) { return now - e.second.last_seen > idle; });
      if (sessions_.size() >= options_.max_sessions) sessions_.erase(sessions_.begin());
    }
    it = sessions_.emplace(session_id, SessionInfo{}).first;
  }
  SessionInfo& info = it->second;
  info.endpoint = call.request.endpoint();
  info.user = call.request.principal().user_email();
  info.sink = call.sink;
  info.last_seen = now;
  if (call.envelope.kind != jsonrpc::Kind::kRequest || call.envelope.params.empty()) return;
  const std::string& method = call.envelope.method;
  if (method != "resources/subscribe" && method != "resources/unsubscribe") return;
  const std::string& message = call.request.message();
  auto uri_span = jsonrpc::FindMember(message, call.envelope.params, "uri");
  std::optional<std::string> uri;
  if (uri_span) uri = jsonrpc::DecodeString(uri_span->In(message));
  if (!uri) return;
  constexpr size_t kMaxSubscriptions = 1000;  // per session
  if (method == "resources/unsubscribe") {
    info.subscriptions.erase(*uri);
  } else if (info.subscriptions.size() < kMaxSubscriptions) {
    info.subscriptions.insert(*uri);
  }
}

void RouterService::FanOutToSessions(const std::string& server, std::string_view message,
                                     const Envelope& env, const Audience& audience) {
  std::shared_ptr<const configwatch::ConfigView> config = config_();
  if (config == nullptr) return;
  std::optional<std::string> updated_uri;
  if (env.method == "notifications/resources/updated") {
    if (env.params.empty()) return;
    auto uri_span = jsonrpc::FindMember(message, env.params, "uri");
    if (uri_span) updated_uri = jsonrpc::DecodeString(uri_span->In(message));
    if (!updated_uri) return;
  }
  ForEachLiveSession([&](const std::string& id, SessionInfo& info, ClientSink& sink) {
    const auto* endpoint = config->FindEndpoint(info.endpoint);
    const auto* ns = endpoint ? config->FindNamespace(endpoint->namespace_()) : nullptr;
    bool sees = ns != nullptr && IsMember(*ns, server);
    // A per-session process speaks for its session alone, a per-user one for its user's.
    if (!audience.session.empty() && id != audience.session) sees = false;
    if (audience.session.empty() && !audience.user.empty() && info.user != audience.user) {
      sees = false;
    }
    if (sees && (!updated_uri || info.subscriptions.count(*updated_uri))) {
      sink.SendToSession(id, std::string(message));
    }
  });
}

RouterService::Pending* RouterService::OnlyCallInFlight(UpstreamState& up, uint64_t* id) {
  uint64_t only = 0;
  int calls = 0;
  up.pending.ForEach([&](uint64_t pending_id, const Pending& p) {
    if (!p.fill && !p.discard) {
      only = pending_id;
      ++calls;
    }
  });
  if (calls != 1) return nullptr;
  if (id != nullptr) *id = only;
  return up.pending.Find(only);
}

void RouterService::RelayServerRequest(const std::string& server, UpstreamState& up,
                                       std::string_view message, const Envelope& env) {
  std::string_view upstream_id = env.id.In(message);
  uint64_t only_id = 0;
  Pending* only = OnlyCallInFlight(up, &only_id);
  std::shared_ptr<ClientSink> sink = only ? only->sink.lock() : nullptr;
  if (sink == nullptr) {
    up.connection->Send(jsonrpc::MakeError(
        upstream_id, jsonrpc::kMethodNotFound,
        StrCat(env.method, only ? ": the client has gone away"
                                : ": the gateway cannot tell which client to ask")));
    return;
  }
  constexpr size_t kMaxRelays = 10000;  // clients that never answer do not grow this forever
  if (relays_.size() >= kMaxRelays) relays_.erase(relays_.begin());
  if (!only->stateless_method.empty()) {
    AskStatelessClient(server, up, only_id, *only, std::move(sink), message, env);
    return;
  }
  uint64_t relay = next_relay_++;
  relays_[relay] = Relay{server, up.generation, std::string(upstream_id), only->session_id};
  sink->Send(only->call_id,
             jsonrpc::Replace(message, env.id, jsonrpc::EncodeString(StrCat("sbr-", relay))),
             false);
}

void RouterService::AskStatelessClient(const std::string& server, UpstreamState& up,
                                       uint64_t pending_id, Pending& pending,
                                       std::shared_ptr<ClientSink> sink,
                                       std::string_view message, const Envelope& env) {
  std::string_view upstream_id = env.id.In(message);
  std::string_view capability = CapabilityFor(env.method);
  if (capability.empty()) {
    up.connection->Send(jsonrpc::MakeError(upstream_id, jsonrpc::kMethodNotFound,
                                           StrCat("Method not found: ", env.method)));
    return;
  }
  if (!Declares(pending.client, env.method)) {
    // The server needs what the client never offered: the call fails, and the server is told
    // no and that the call is off.
    up.connection->Send(jsonrpc::MakeError(
        upstream_id, jsonrpc::kMethodNotFound,
        StrCat(env.method, ": the client did not declare the '", capability, "' capability")));
    up.connection->Send(CancelledNotification(pending_id, "the client lacks a capability"));
    std::optional<Pending> p = up.pending.Take(pending_id);
    sink->Send(p->call_id,
               jsonrpc::MakeError(p->client_id, kMissingClientCapability,
                                  StrCat("Missing required client capability: ", capability),
                                  StrCat(R"({"requiredCapabilities":{")", capability, R"(":{}}})")),
               true);
    return;
  }
  // The question goes back as the call's result; the upstream request waits, parked, for the
  // client's retry (ResumeWithInput), under the call's timeout.
  uint64_t relay = next_relay_++;
  Relay& r = relays_[relay];
  r.server = server;
  r.generation = up.generation;
  r.upstream_id = std::string(upstream_id);
  r.parked = pending_id;
  r.request_state = StrCat("sbm-", relay, "-", crypto::RandomHex(16));
  r.user = pending.user;
  r.method = env.method;
  r.params = env.params.empty() ? std::string() : std::string(env.params.In(message));
  sink->Send(pending.call_id,
             InputRequired(pending.client_id, StrCat("sbr-", relay), r.method, r.params,
                           r.request_state),
             true);
  pending.sink.reset();
  pending.sink_key = nullptr;
  pending.call_id = 0;
}

void RouterService::RelayClientResponse(Call& call) {
  const std::string& message = call.request.message();
  std::optional<std::string> id = jsonrpc::DecodeString(call.envelope.id.In(message));
  if (!id || id->rfind("sbr-", 0) != 0) return;
  std::optional<uint64_t> relay_id = jsonrpc::ParseUintId(std::string_view(*id).substr(4));
  auto it = relay_id ? relays_.find(*relay_id) : relays_.end();
  if (it == relays_.end() || it->second.session_id != call.request.session_id()) return;
  Relay relay = std::move(it->second);
  relays_.erase(it);
  auto up = upstreams_.find(relay.server);
  if (up == upstreams_.end() || up->second.generation != relay.generation) return;
  up->second.connection->Send(jsonrpc::Replace(message, call.envelope.id, relay.upstream_id));
}

void RouterService::DeliverFillPage(const std::string& server, UpstreamState& up, Pending pending,
                                    std::string_view message, const Envelope& env) {
  Fill& fill = *pending.fill;
  if (env.result.empty()) {
    log::Warn("upstream failed a list call", {{"server", server}, {"method", fill.method}});
    return EndFill(fill, "error");
  }
  boost::system::error_code ec;
  json::value result = json::parse(env.result.In(message), ec);
  if (ec || !result.is_object()) {
    log::Warn("unreadable list result from an upstream", {{"server", server}});
    return EndFill(fill, "error");
  }
  const json::object& obj = result.get_object();
  std::string_view array_key = fill.method == "tools/list"       ? "tools"
                               : fill.method == "prompts/list"   ? "prompts"
                               : fill.method == "resources/list" ? "resources"
                                                                 : "resourceTemplates";
  if (auto* items = obj.if_contains(array_key); items && items->is_array()) {
    for (const json::value& item : items->get_array()) {
      if (item.is_object()) fill.items.push_back(item);
    }
  }
  auto* cursor = obj.if_contains("nextCursor");
  if (cursor && cursor->is_string() && pending.page + 1 < options_.max_list_pages) {
    json::object params;
    params["cursor"] = cursor->get_string();
    pending.page += 1;
    pending.timer.reset();
    uint64_t id = up.pending.Add(std::move(pending));
    ArmTimer(server, id, *up.pending.Find(id), options_.list_timeout_ms);
    up.connection->Send(
        jsonrpc::MakeRequest(std::to_string(id), fill.method, json::serialize(params)));
    return;
  }
  EndFill(fill, "ok");
}

void RouterService::EndFill(Fill& fill, std::string_view outcome) {
  if (outcome != "ok") CountPartialList(fill.server, fill.method, outcome);
  auto items = std::make_shared<const json::array>(std::move(fill.items));
  // What the server offers, for routing resources/read and friends.
  for (const json::value& item : *items) {
    const json::object& obj = item.get_object();
    if (fill.method == "resources/list") {
      if (auto* uri = obj.if_contains("uri"); uri && uri->is_string()) {
        if (resource_owner_.size() >= kMaxKnownResources) resource_owner_.clear();
        std::vector<std::string>& owners = resource_owner_[std::string(uri->get_string())];
        if (std::find(owners.begin(), owners.end(), fill.server) == owners.end()) {
          owners.push_back(fill.server);
        }
      }
    } else if (fill.method == "resources/templates/list") {
      if (auto* t = obj.if_contains("uriTemplate"); t && t->is_string()) {
        std::string_view tmpl = t->get_string();
        std::string prefix(tmpl.substr(0, tmpl.find('{')));
        auto same = [&](const auto& e) { return e.first == prefix && e.second == fill.server; };
        if (std::find_if(template_owner_.begin(), template_owner_.end(), same) ==
            template_owner_.end()) {
          template_owner_.emplace_back(prefix, fill.server);
        }
      }
    }
  }
  if (outcome == "ok" && fill.method == "tools/list" && options_.tools_seen) {
    std::vector<std::string> names;
    for (const json::value& item : *items) {
      const json::value* name = item.get_object().if_contains("name");
      if (name != nullptr && name->is_string()) names.emplace_back(name->get_string());
    }
    std::sort(names.begin(), names.end());
    std::vector<std::string>& reported = reported_tools_[fill.server];
    if (names != reported) {
      reported = names;
      options_.tools_seen(fill.server, std::move(names));
    }
  }
  ServerList& cached = lists_[fill.server][fill.method];
  auto now = std::chrono::steady_clock::now();
  cached.last = ListOutcome{
      std::string(outcome), items->size(), std::chrono::system_clock::now(),
      std::chrono::duration_cast<std::chrono::milliseconds>(now - fill.started).count()};
  bool current = cached.filling.get() == &fill;
  if (current) {
    // Only a complete list is kept: a failed one is asked for again by the next list.
    if (outcome == "ok") cached.items = items;
    // Drops the last reference but one: `fill` stays valid through its caller's Pending.
    cached.filling.reset();
  }
  std::vector<std::shared_ptr<ListAggregate>> waiters = std::move(fill.waiters);
  for (const auto& list : waiters) {
    if (list->done) continue;
    list->parts[fill.server] = items;
    if (--list->outstanding == 0) FinishList(*list);
  }
}

std::optional<json::object> RouterService::Present(const ListAggregate& list,
                                                   const std::string& server,
                                                   const json::value& item) const {
  json::object copy = item.get_object();
  if (list.array_key != "tools" && list.array_key != "prompts") return copy;
  auto* name_value = copy.if_contains("name");
  if (name_value == nullptr || !name_value->is_string()) return std::nullopt;
  std::string name(name_value->get_string());
  std::string full = list.prefix ? jsonrpc::PrefixedName(server, name) : name;
  if (list.array_key == "tools") {
    if (const auto* o = list.config->FindToolOverride(list.ns, server, name)) {
      if (o->disabled()) return std::nullopt;
      if (!o->name().empty()) full = o->name();
      if (!o->title().empty()) copy["title"] = o->title();
      if (!o->description().empty()) copy["description"] = o->description();
      if (!o->annotations().empty()) {
        boost::system::error_code ec;
        json::value annotations = json::parse(o->annotations(), ec);
        if (!ec && annotations.is_object()) {
          copy["annotations"] = std::move(annotations);
        } else {
          log::Warn("tool override annotations are not a JSON object; ignored",
                    {{"namespace", list.ns}, {"server", server}});
        }
      }
    }
  }
  if (full.size() > jsonrpc::kMaxToolNameLength) {
    NoteHidden(list.ns, server, StrCat("name '", name, "'"),
               StrCat("'", full, "' is ", full.size(), " characters, over MCP's ",
                      jsonrpc::kMaxToolNameLength, "; a tool override can rename it"));
    return std::nullopt;
  }
  copy["name"] = full;
  return copy;
}

void RouterService::FinishList(ListAggregate& list) {
  if (list.done) return;
  list.done = true;
  open_lists_.erase(list.id);
  auto sink = list.origin.sink.lock();
  if (!sink) return;
  // What identifies an item to clients: its (presented) name, or its URI. The first server in
  // namespace order that shows a key owns it; a later item with the same key is hidden, so
  // what a list shows is what a call or read reaches.
  std::string_view key_field = list.array_key == "resources"           ? "uri"
                               : list.array_key == "resourceTemplates" ? "uriTemplate"
                                                                       : "name";
  std::set<std::string, std::less<>> seen;
  json::array page;
  std::optional<ListPosition> next;
  for (size_t k = 0; k < list.servers.size() && !next; ++k) {
    const std::string& server = list.servers[k];
    auto part = list.parts.find(server);
    if (part == list.parts.end() || part->second == nullptr) continue;  // failed: left out
    const json::array& items = *part->second;
    for (size_t i = 0; i < items.size(); ++i) {
      std::optional<json::object> item = Present(list, server, items[i]);
      if (!item) continue;
      const json::value* key = item->if_contains(key_field);
      if (key != nullptr && key->is_string()) {
        std::string_view text = key->get_string();
        if (!seen.insert(std::string(text)).second) {
          NoteHidden(list.ns, server, StrCat(key_field, " '", text, "'"),
                     "shown by an earlier server of the namespace");
          continue;
        }
      }
      bool before_page = k < list.first_server || (k == list.first_server && i < list.first_index);
      if (before_page) continue;
      if (page.size() >= std::max<size_t>(options_.list_page_size, 1)) {
        next = ListPosition{server, i};
        break;
      }
      page.push_back(std::move(*item));
    }
  }
  json::object result;
  result[list.array_key] = std::move(page);
  if (next) result["nextCursor"] = EncodeListCursor(list.method, *next);
  std::string reply = jsonrpc::MakeResult(list.origin.client_id, json::serialize(result));
  if (!list.origin.stateless_method.empty()) reply = MarkComplete(std::move(reply), list.method);
  sink->Send(list.origin.call_id, std::move(reply), true);
}

void RouterService::NoteHidden(const std::string& ns, const std::string& server,
                               std::string item, std::string_view why) const {
  std::string key = StrCat(ns, "/", server, "/", item);
  if (hidden_.count(key) == 0) {
    if (hidden_.size() >= kMaxHiddenNoted) return;
    log::Warn("list item hidden", {{"namespace", ns}, {"server", server}, {"item", item},
                                   {"reason", why}});
  }
  hidden_[key] = HiddenItem{ns, server, std::move(item), std::string(why)};
}

void RouterService::InvalidateLists(const std::string& server, std::string_view method) {
  std::erase_if(hidden_, [&](const auto& entry) { return entry.second.server == server; });
  auto it = lists_.find(server);
  if (it == lists_.end()) return;
  for (auto& [m, cached] : it->second) {
    if (!method.empty() && m != method) continue;
    cached.items.reset();
    cached.filling.reset();  // a fill under way still answers its lists, but is not kept
  }
}

void RouterService::OnTimeout(const std::string& server, uint64_t id) {
  auto it = upstreams_.find(server);
  if (it == upstreams_.end()) return;
  UpstreamState& up = it->second;
  auto pending = up.pending.Take(id);
  if (!pending) return;
  if (pending->upstream) pending->upstream->Fail("timeout");
  up.connection->Send(CancelledNotification(id, "timed out at the gateway"));
  if (pending->fill) {
    log::Warn("upstream did not answer a list call in time", {{"server", server}});
    EndFill(*pending->fill, "timeout");
    return;
  }
  if (auto sink = pending->sink.lock()) {
    sink->Send(pending->call_id,
               jsonrpc::MakeError(pending->client_id, jsonrpc::kUpstreamTimeout,
                                  StrCat("MCP server '", server, "' did not answer in time")),
               true);
  }
}

void RouterService::OnUpstreamClosed(const std::string& server, uint64_t generation,
                                     std::string reason) {
  auto it = upstreams_.find(server);
  if (it == upstreams_.end() || it->second.generation != generation) return;
  log::Warn("upstream connection closed", {{"server", server}, {"reason", reason}});
  DropUpstream(server, reason);
}

void RouterService::DropUpstream(const std::string& server, std::string_view reason) {
  auto it = upstreams_.find(server);
  if (it == upstreams_.end()) return;
  UpstreamState state = std::move(it->second);
  upstreams_.erase(it);
  // A server that comes back may offer something else.
  InvalidateLists(server);
  state.pending.Drain([&](uint64_t, Pending& p) {
    if (p.upstream) p.upstream->Fail("unavailable");
    if (p.fill) {
      EndFill(*p.fill, "unavailable");
      return;
    }
    if (auto sink = p.sink.lock()) {
      sink->Send(p.call_id,
                 jsonrpc::MakeError(p.client_id, jsonrpc::kUpstreamUnavailable,
                                    StrCat("MCP server '", server, "' is unavailable: ", reason)),
                 true);
    }
  });
}

void RouterService::ApplyConfigChange(std::shared_ptr<const configwatch::ConfigView> view) {
  if (view == nullptr) return;
  std::shared_ptr<const configwatch::ConfigView> old = std::exchange(seen_config_, view);
  if (old == nullptr || old == view) return;
  hidden_.clear();  // what a namespace hides is worked out again by its next lists
  // Servers now reached differently, or gone: their connections and cached lists go too.
  std::set<std::string, std::less<>> changed;
  for (const auto& [name, server] : old->servers()) {
    const auto* now = view->FindServer(name);
    if (now == nullptr || !SameConnection(server, *now)) changed.insert(name);
  }
  for (const auto& [name, server] : view->servers()) {
    if (old->FindServer(name) == nullptr) changed.insert(name);
  }
  for (const std::string& name : changed) {
    InvalidateLists(name);
    auto up = upstreams_.find(name);
    if (up == upstreams_.end()) continue;
    log::Info("server configuration changed; reconnecting", {{"server", name}});
    up->second.connection->Close();
    DropUpstream(name, "its configuration changed");
  }
  for (const std::string& name : changed) {
    if (view->FindServer(name) == nullptr) lists_.erase(name);
  }
  // What each namespace's sessions must be told: tools (bit 1) and prompts/resources (bit 2).
  constexpr int kTools = 1, kOthers = 2;
  std::map<std::string, int, std::less<>> namespace_changes;
  auto changes_of = [&](const std::string& ns_name) {
    auto known = namespace_changes.find(ns_name);
    if (known != namespace_changes.end()) return known->second;
    const auto* before = old->FindNamespace(ns_name);
    const auto* after = view->FindNamespace(ns_name);
    int bits = 0;
    if (before == nullptr || after == nullptr) {
      bits = before == after ? 0 : kTools | kOthers;
    } else {
      std::vector<std::string> members = EnabledMembers(*after);
      bool same =
          members == EnabledMembers(*before) && before->disable_prefix() == after->disable_prefix();
      for (const std::string& m : members) same = same && changed.count(m) == 0;
      if (!same) bits = kTools | kOthers;
      if (!SameToolOverrides(*old, *view, ns_name)) bits |= kTools;
    }
    namespace_changes[ns_name] = bits;
    return bits;
  };
  auto namespace_of = [](const configwatch::ConfigView& v, std::string_view endpoint) {
    const auto* ep = v.FindEndpoint(endpoint);
    return ep == nullptr ? std::string() : ep->namespace_();
  };
  ForEachLiveSession([&](const std::string& id, SessionInfo& info, ClientSink& sink) {
    std::string now = namespace_of(*view, info.endpoint);
    if (now.empty()) return;  // the endpoint is gone: the session has nothing left to list
    int bits = now == namespace_of(*old, info.endpoint) ? changes_of(now) : kTools | kOthers;
    if (bits & kTools) {
      sink.SendToSession(id, jsonrpc::MakeNotification("notifications/tools/list_changed", ""));
    }
    if (bits & kOthers) {
      sink.SendToSession(id, jsonrpc::MakeNotification("notifications/prompts/list_changed", ""));
      sink.SendToSession(id, jsonrpc::MakeNotification("notifications/resources/list_changed", ""));
    }
  });
}

void RouterService::ForEachLiveSession(
    const std::function<void(const std::string& id, SessionInfo& info, ClientSink& sink)>& fn) {
  auto now = std::chrono::steady_clock::now();
  auto idle = std::chrono::milliseconds(options_.session_idle_ms);
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    auto sink = it->second.sink.lock();
    if (sink == nullptr || now - it->second.last_seen > idle) {
      it = sessions_.erase(it);
      continue;
    }
    fn(it->first, it->second, *sink);
    ++it;
  }
}

std::string RouterService::StatusJson() const {
  json::object status;
  std::shared_ptr<const configwatch::ConfigView> config = config_();
  status["revision"] = config ? config->revision() : 0;
  status["sessions"] = sessions_.size();
  json::object servers;
  auto entry = [&](const std::string& name) -> json::object& {
    json::value& v = servers[name];
    if (!v.is_object()) {
      v = json::object{{"connected", upstreams_.count(name) > 0}};
    }
    return v.get_object();
  };
  for (const auto& [name, up] : upstreams_) {
    size_t in_flight = 0;
    up.pending.ForEach([&](uint64_t, const Pending&) { ++in_flight; });
    entry(name)["in_flight"] = in_flight;
  }
  for (const auto& [name, methods] : lists_) {
    json::object lists;
    for (const auto& [method, cached] : methods) {
      json::object l;
      l["cached"] = cached.items != nullptr;
      if (cached.items != nullptr) l["count"] = cached.items->size();
      if (cached.last) {
        l["last"] = json::object{{"outcome", cached.last->outcome},
                                 {"count", cached.last->count},
                                 {"at_unix_ms", UnixMillis(cached.last->at)},
                                 {"duration_ms", cached.last->duration_ms}};
      }
      lists[method] = std::move(l);
    }
    entry(name)["lists"] = std::move(lists);
  }
  status["servers"] = std::move(servers);
  json::array hidden;
  for (const auto& [key, h] : hidden_) {
    hidden.push_back(json::object{
        {"namespace", h.ns}, {"server", h.server}, {"item", h.item}, {"reason", h.reason}});
  }
  status["hidden"] = std::move(hidden);
  return json::serialize(status);
}

}  // namespace switchboard::router
