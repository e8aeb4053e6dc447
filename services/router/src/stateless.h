#pragma once

#include <string>
#include <string_view>

#include "switchboard/jsonrpc/message.h"

namespace switchboard::router {

// MCP 2026-07-28: requests without a session, each carrying the client's version, capabilities
// and wanted log level in params._meta. The router serves them from the same upstreams, which
// keep speaking their own (session-based) version: it adds what the new version's results
// carry, and turns an upstream's questions to the client (sampling, elicitation, roots) into
// input_required results that the client answers by retrying its request.
inline constexpr std::string_view kStatelessVersion = "2026-07-28";
inline constexpr int kMissingClientCapability = -32021;

// What a stateless request's params._meta says about its client.
struct StatelessClient {
  bool sampling = false;
  bool elicitation = false;
  bool roots = false;
  int log_level = -1;  // rank of the lowest level it wants (LogLevelRank); -1: no log messages
};
StatelessClient ReadStatelessClient(std::string_view message, jsonrpc::Span params);

// True for the session-based methods 2026-07-28 removed (initialize, ping, logging/setLevel,
// resources/subscribe and resources/unsubscribe).
bool IsRemovedInStateless(std::string_view method);

// The client capability a server-to-client request needs: "sampling", "elicitation", "roots";
// empty for any other method.
std::string_view CapabilityFor(std::string_view method);

// True when `client` declared the capability `method` needs.
bool Declares(const StatelessClient& client, std::string_view method);

// The rank of a logging level, "debug" 0 to "emergency" 7; -1 when unknown.
int LogLevelRank(std::string_view level);
// The level of a rank (0 to 7); "debug" for anything else.
std::string_view LogLevelName(int rank);

// True for the results clients may cache, which carry ttlMs and cacheScope.
bool IsCacheable(std::string_view method);

// `response` (a success response to `method`) with resultType "complete" and, for cacheable
// methods, ttlMs and cacheScope added to its result where absent. Other messages unchanged.
std::string MarkComplete(std::string response, std::string_view method);

// An input_required result asking the client `method` with `params_json` under `key`, to be
// answered by retrying with inputResponses[key] and `request_state`.
std::string InputRequired(std::string_view raw_id, std::string_view key, std::string_view method,
                          std::string_view params_json, std::string_view request_state);

}  // namespace switchboard::router
