#include "services/auth/src/rate_limits.h"

#include "switchboard/common/strings.h"

namespace switchboard::auth {

const registry::v1::ToolOverride* FindOverrideOfCall(const configwatch::ConfigView& view,
                                                     std::string_view ns, std::string_view tool) {
  if (const auto* renamed = view.FindToolOverrideByName(ns, tool)) return renamed;
  const registry::v1::Namespace* space = view.FindNamespace(ns);
  if (space == nullptr) return nullptr;
  if (space->disable_prefix()) {
    for (const auto& member : space->servers()) {
      if (const auto* o = view.FindToolOverride(ns, member.server(), tool)) return o;
    }
    return nullptr;
  }
  size_t sep = tool.find("__");
  if (sep == std::string_view::npos) return nullptr;
  return view.FindToolOverride(ns, tool.substr(0, sep), tool.substr(sep + 2));
}

std::vector<Limit> LimitsFor(const v1::AuthorizeRequest& request,
                             const v1::AuthorizeResponse& allowed,
                             const configwatch::ConfigView& view) {
  std::vector<Limit> limits;
  const registry::v1::Endpoint* endpoint = view.FindEndpoint(request.endpoint());
  if (endpoint == nullptr) return limits;
  std::string principal = allowed.user_email().empty()
                              ? StrCat("anon:", request.remote_address())
                              : StrCat("user:", allowed.user_email());
  std::string prefix = StrCat("sb:rl:{", endpoint->name(), "}:");
  if (endpoint->user_requests_per_minute() > 0) {
    limits.push_back({StrCat(prefix, principal), endpoint->user_requests_per_minute(), "user"});
  }
  if (endpoint->requests_per_minute() > 0) {
    limits.push_back({StrCat(prefix, "all"), endpoint->requests_per_minute(), "endpoint"});
  }
  if (!request.tool().empty()) {
    const auto* o = FindOverrideOfCall(view, endpoint->namespace_(), request.tool());
    if (o != nullptr && o->user_requests_per_minute() > 0) {
      limits.push_back({StrCat(prefix, "tool:", o->server(), "/", o->tool(), ":", principal),
                        o->user_requests_per_minute(), "tool"});
    }
  }
  return limits;
}

}  // namespace switchboard::auth
