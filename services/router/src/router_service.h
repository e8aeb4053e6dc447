#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "services/router/src/router_telemetry.h"
#include "services/router/src/stateless.h"
#include "services/router/src/upstream.h"
#include "switchboard/configwatch/config_view.h"
#include "switchboard/jsonrpc/id_mapper.h"
#include "switchboard/jsonrpc/message.h"
#include "switchboard/router/v1/router.pb.h"

namespace switchboard::router {

// Where the messages for one client call go: the edge's call on one Exchange stream.
class ClientSink {
 public:
  virtual ~ClientSink() = default;
  // Delivers a message for `call_id`; `final` marks the last one (the response).
  virtual void Send(uint64_t call_id, std::string message, bool final) = 0;
  // Delivers a message that belongs to no call (list_changed, resources/updated) to a session.
  virtual void SendToSession(const std::string& session_id, std::string message) = 0;
};

struct RouterOptions {
  int64_t request_timeout_ms = 300000;  // reset by each progress notification
  int64_t list_timeout_ms = 15000;      // per upstream, for merged lists
  int max_list_pages = 50;              // pages followed per upstream for one merged list
  size_t list_page_size = 100;          // items per page of a merged list
  int64_t session_idle_ms = 3600000;    // a session not heard from for this long is forgotten
  size_t max_sessions = 100000;         // sessions remembered for unsolicited messages
  std::string version = "0.1.0";
  // Told, on the router's executor, the tool names (as the server reports them, sorted) each
  // time a server's tools list is fetched with names that differ from the last told: the
  // registry keeps them to check tool names at apply time. Must not block.
  std::function<void(const std::string& server, std::vector<std::string> tools)> tools_seen;
};

// A namespace's merged view of its servers. Answers initialize and ping itself, merges
// tools/list, prompts/list, resources/list and resources/templates/list across the namespace's
// servers (names as "{server}__{name}", tool overrides applied) in pages of its own, and routes
// tools/call and prompts/get to the right server with the JSON-RPC id (and progress token)
// replaced by its own, mapping the answer back. Messages it forwards are rewritten in place,
// never re-serialized.
//
// Each server's lists are asked once and cached for every session, until the server says they
// changed, its connection is lost or its configuration changes. A configuration change that
// alters what a namespace shows is announced to its sessions with list_changed notifications.
//
// All state lives on one executor; Handle and Detach may be called from any thread.
class RouterService {
 public:
  using ConfigSource = std::function<std::shared_ptr<const configwatch::ConfigView>()>;

  RouterService(boost::asio::any_io_executor executor, ConfigSource config,
                UpstreamFactory* upstreams, RouterOptions options);
  ~RouterService();

  // Handles one frame from the edge; answers go to `sink`.
  void Handle(std::shared_ptr<ClientSink> sink, router::v1::RouterRequest request);
  // Forgets every call of a sink whose stream ended, cancelling them upstream.
  void Detach(const ClientSink* sink);
  // Closes every upstream connection. Call before destroying the executor.
  void Shutdown();
  // Takes in a new configuration (ConfigCache::OnChange): drops the cached lists and the
  // connections of servers whose settings changed, and tells the sessions of every namespace
  // whose lists it changes. Call from any thread, in revision order.
  void OnConfigChange(std::shared_ptr<const configwatch::ConfigView> view);

  // The admin-only JSON-RPC method answering the router's status (see StatusJson).
  static constexpr std::string_view kStatusMethod = "switchboard/status";

  // Protocol versions the router speaks to clients, newest last.
  static const std::vector<std::string>& SupportedVersions();

 private:
  struct ListAggregate;
  struct Fill;
  struct Pending {
    std::weak_ptr<ClientSink> sink;
    const ClientSink* sink_key = nullptr;
    uint64_t call_id = 0;
    std::string session_id;
    std::string client_id;       // raw JSON of the client's id
    std::string progress_token;  // raw JSON of the client's token, empty if none
    std::string user;            // the caller's user, who alone may answer its server's questions
    // For a stateless (2026-07-28) call: its method, whose results are marked for that version,
    // and what its client declared. Empty for a session's call.
    std::string stateless_method;
    StatelessClient client;
    std::shared_ptr<Fill> fill;           // set for a page of a server's list, asked for the cache
    int page = 0;                         // the upstream page being asked for
    bool discard = false;                 // nobody waits for the answer (setLevel fan-out)
    std::string retry_message;            // the client's message, for the next candidate
    std::vector<std::string> candidates;  // servers still to try when this one says no
    std::unique_ptr<boost::asio::steady_timer> timer;
    CallSpan trace;                          // the client call's span, if traced
    std::unique_ptr<UpstreamCall> upstream;  // the request's span and metrics
  };
  struct UpstreamState {
    std::shared_ptr<Upstream> connection;
    jsonrpc::IdMapper<Pending> pending;
    uint64_t generation = 0;
    int log_level = -1;  // the level last set on the server (LogLevelRank); -1: never set
  };
  // Sessions seen recently: where to send their unsolicited messages.
  struct SessionInfo {
    std::string endpoint;
    std::string user;  // the principal that made it
    std::weak_ptr<ClientSink> sink;
    std::chrono::steady_clock::time_point last_seen;
    std::set<std::string, std::less<>> subscriptions;  // resource URIs
    int log_level = -1;  // rank of the level it set with logging/setLevel; -1: none set
  };
  // How a server's last list call went, for the status.
  struct ListOutcome {
    std::string outcome;  // "ok", "timeout", "error", "unavailable"
    size_t count = 0;
    std::chrono::system_clock::time_point at;
    int64_t duration_ms = 0;
  };
  // One server's answer to one list method, shared by every session.
  struct ServerList {
    std::shared_ptr<const boost::json::array> items;  // nullptr: not cached
    std::shared_ptr<Fill> filling;                    // the fill whose answer will be cached
    std::optional<ListOutcome> last;
  };
  struct Call {
    std::shared_ptr<ClientSink> sink;
    router::v1::RouterRequest request;
    jsonrpc::Envelope envelope;
    std::shared_ptr<const configwatch::ConfigView> config;
    const registry::v1::Namespace* ns = nullptr;
    bool stateless = false;  // a 2026-07-28 request: no session, client described in _meta
    StatelessClient client;
    CallSpan trace;  // set for a request: the router's span for it
  };

  // A pending entry for an upstream request made on behalf of `call`.
  static Pending PendingFor(const Call& call, std::string_view client_id);
  void HandleOnExecutor(std::shared_ptr<ClientSink> sink, router::v1::RouterRequest request);
  void HandleRequest(Call& call);
  void HandleNotification(Call& call);
  void Initialize(Call& call);
  // server/discover: what initialize tells a session, for a stateless client.
  void Discover(Call& call);
  // The capabilities and identity the router presents for the call's namespace.
  boost::json::object Capabilities() const;
  boost::json::object ServerInfo(const Call& call) const;
  // A stateless retry carrying the answer to an input_required result: the answer goes to the
  // server that asked, and the retried call takes over the parked upstream request.
  void ResumeWithInput(Call& call, jsonrpc::Span state_span);
  // Answers a merged list from the servers' cached lists, asking the servers whose lists are
  // not cached yet first.
  void StartList(Call& call, std::string_view array_key);
  void RouteByName(Call& call);
  void RouteByUri(Call& call);
  // Routes `call` to the server named by the prefixed name at `name_span` (a `kind`, "tool" or
  // "prompt"), renaming it to the server's own name; `field` names it in errors.
  void RouteToNamed(Call& call, std::optional<jsonrpc::Span> name_span, std::string_view kind,
                    std::string_view field);
  // Routes `call` to the server most likely to hold `uri`, trying the others in namespace
  // order when it says no; `field` names the URI in errors.
  void RouteToResource(Call& call, const std::optional<std::string>& uri, std::string_view field);
  // Forgets every pending upstream request matching `pred`, telling the upstream to cancel it.
  void CancelWhere(const std::function<bool(const Pending&)>& pred, std::string_view reason);
  void RouteCompletion(Call& call);
  void SetLevel(Call& call);
  // Sends the client's `message` to `server` as a request of its own: replaces the id (and
  // progress token) with the router's, applies `edits`, and arms the timeout.
  void Forward(const std::string& server, UpstreamState& up, Pending pending,
               std::string_view message, const jsonrpc::Envelope& env,
               std::vector<jsonrpc::Edit> edits);
  // Servers of the namespace that may hold `uri`, most likely first.
  std::vector<std::string> ResourceCandidates(const Call& call, std::string_view uri) const;
  // Resolves "{server}__{name}" (or a bare name when prefixing is off) within the namespace.
  const registry::v1::Server* ResolvePrefixed(const Call& call, std::string_view full,
                                              std::string_view* inner) const;
  void CancelCall(const ClientSink* sink, uint64_t call_id);
  void Reply(const Call& call, std::string message);

  UpstreamState* GetUpstream(const registry::v1::Server& server);
  uint64_t SendUpstream(const std::string& server, UpstreamState& up, std::string message,
                        jsonrpc::Span id_span, Pending pending, int64_t timeout_ms);
  // Who a message from a per-user or per-session process is for; empty: everyone who sees
  // the server.
  struct Audience {
    std::string user;
    std::string session;
  };
  void OnUpstreamMessage(const std::string& server, uint64_t generation, std::string message,
                         const Audience& audience = {});
  void OnUpstreamClosed(const std::string& server, uint64_t generation, std::string reason);
  void OnTimeout(const std::string& server, uint64_t id);
  // Asks `server` for its `method` list on behalf of the cache.
  void StartFill(const std::string& server, UpstreamState& up, const std::string& method);
  void DeliverFillPage(const std::string& server, UpstreamState& up, Pending pending,
                       std::string_view message, const jsonrpc::Envelope& env);
  // Ends a fill: `outcome` is "ok", "timeout", "error" or "unavailable". A complete list is
  // cached unless the cache was invalidated meanwhile; waiting lists get what arrived.
  void EndFill(Fill& fill, std::string_view outcome);
  void FinishList(ListAggregate& list);
  // An item of `server`'s list as `list`'s namespace shows it; nullopt when it is hidden.
  std::optional<boost::json::object> Present(const ListAggregate& list, const std::string& server,
                                             const boost::json::value& item) const;
  // Records (once, with a log line) that `item` of `server` is left out of `ns`'s lists, and
  // why, for the status.
  void NoteHidden(const std::string& ns, const std::string& server, std::string item,
                  std::string_view why) const;
  // Forgets `server`'s cached `method` list (every list when `method` is empty).
  void InvalidateLists(const std::string& server, std::string_view method = {});
  // Forgets an upstream connection (already closed), failing what was pending on it.
  void DropUpstream(const std::string& server, std::string_view reason);
  void ApplyConfigChange(std::shared_ptr<const configwatch::ConfigView> view);
  // Calls `fn` for every session still connected and recently seen, forgetting the others.
  void ForEachLiveSession(
      const std::function<void(const std::string& id, SessionInfo& info, ClientSink& sink)>& fn);
  // The router's status as JSON: the revision, and each upstream's connection and last list
  // outcomes (ok, timeout, error; item count; when). No secrets, no session ids.
  std::string StatusJson() const;
  // The single call in flight on `up` (a server can only be asking or logging about that one),
  // or nullptr when there are none or several.
  Pending* OnlyCallInFlight(UpstreamState& up, uint64_t* id = nullptr);
  void RelayServerRequest(const std::string& server, UpstreamState& up, std::string_view message,
                          const jsonrpc::Envelope& env);
  void RelayClientResponse(Call& call);
  // A server-to-client request during a stateless call: refused with -32021 when the client
  // did not declare the capability, else returned to the client as an input_required result.
  void AskStatelessClient(const std::string& server, UpstreamState& up, uint64_t pending_id,
                          Pending& pending, std::shared_ptr<ClientSink> sink,
                          std::string_view message, const jsonrpc::Envelope& env);
  // Remembers which stream last carried a session, so messages not tied to a call reach it.
  void NoteSession(const Call& call);
  // Sends an upstream's list_changed or resources/updated to every session that sees it.
  void FanOutToSessions(const std::string& server, std::string_view message,
                        const jsonrpc::Envelope& env, const Audience& audience = {});
  void ArmTimer(const std::string& server, uint64_t id, Pending& pending, int64_t timeout_ms);

  boost::asio::any_io_executor executor_;
  ConfigSource config_;
  UpstreamFactory* factory_;
  RouterOptions options_;
  std::map<std::string, UpstreamState, std::less<>> upstreams_;
  // Which servers listed a resource URI, and which template prefixes each server offers:
  // learnt from list results, used to route resources/read and friends.
  std::map<std::string, std::vector<std::string>, std::less<>> resource_owner_;
  std::vector<std::pair<std::string, std::string>> template_owner_;
  // Server->client requests relayed to a client, by the id the client sees ("sbr-<n>").
  struct Relay {
    std::string server;
    uint64_t generation = 0;
    std::string upstream_id;  // raw JSON of the id the server used
    std::string session_id;   // only this session may answer
    // A stateless call's question, asked as an input_required result: the upstream request
    // parked until the retry, the requestState handed out, who may answer, and the question.
    uint64_t parked = 0;
    std::string request_state;
    std::string user;
    std::string method;
    std::string params;
  };
  std::map<uint64_t, Relay> relays_;
  std::map<std::string, SessionInfo, std::less<>> sessions_;
  // Cached lists: server -> list method -> list.
  std::map<std::string, std::map<std::string, ServerList, std::less<>>, std::less<>> lists_;
  // Merged lists waiting for servers, by id: found again when their call is cancelled.
  std::map<uint64_t, std::shared_ptr<ListAggregate>> open_lists_;
  uint64_t next_list_ = 1;
  // The configuration the router last took in, to tell what a new one changes.
  std::shared_ptr<const configwatch::ConfigView> seen_config_;
  uint64_t next_relay_ = 1;
  uint64_t next_generation_ = 1;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  // Items left out of lists (a name too long once prefixed, a name or URI an earlier server
  // already shows), by "namespace/server/item": reported in the status. Forgotten when the
  // configuration changes; bounded.
  struct HiddenItem {
    std::string ns, server, item, reason;
  };
  static constexpr size_t kMaxHiddenNoted = 1000;
  // The tool names last given to options_.tools_seen, by server.
  std::map<std::string, std::vector<std::string>, std::less<>> reported_tools_;
  mutable std::map<std::string, HiddenItem> hidden_;
  // The span of the client request being handled: the parent of the list fills it starts.
  CallSpan active_trace_;
};

}  // namespace switchboard::router
