#include "services/registry/src/tool_names.h"

#include <set>
#include <string_view>

#include "switchboard/common/crypto.h"
#include "switchboard/common/strings.h"
#include "switchboard/jsonrpc/names.h"

namespace switchboard::registry {
namespace {

struct Problem {
  std::string key;      // identifies the problem, to tell old ones from new
  std::string message;  // one line, naming the field and the fix
};

// A name within the limit in place of `usual` (how `tool` would be listed): `usual` + "_2",
// or `usual` shortened with a tag of `tool` when that would be too long.
std::string Suggest(std::string_view usual, std::string_view tool) {
  const size_t max = jsonrpc::kMaxToolNameLength;
  if (usual.size() + 2 <= max) return StrCat(usual, "_2");
  // A short, stable tag of the tool's name keeps the shortened name unique.
  std::string tag = crypto::Sha256Hex(tool).substr(0, 6);
  return StrCat(usual.substr(0, max - tag.size() - 1), "_", tag);
}

std::string OverrideHint(std::string_view ns, std::string_view server, std::string_view tool,
                         std::string_view name) {
  return StrCat("{namespace: ", ns, ", server: ", server, ", tool: ", tool, ", name: ", name,
                "}");
}

std::vector<Problem> FindProblems(const v1::Snapshot& s, const KnownTools& known) {
  std::map<std::string, const v1::ToolOverride*> overrides;
  for (const v1::ToolOverride& o : s.tool_overrides()) {
    overrides[StrCat(o.namespace_(), "/", o.server(), "/", o.tool())] = &o;
  }
  std::vector<Problem> out;
  for (const v1::Namespace& ns : s.namespaces()) {
    // name -> "server/tool" of the first tool shown under it, in namespace order.
    std::map<std::string, std::string> shown;
    for (const v1::NamespaceServer& m : ns.servers()) {
      if (m.disabled()) continue;
      auto tools = known.find(m.server());
      if (tools == known.end()) continue;
      for (const std::string& tool : tools->second) {
        auto o = overrides.find(StrCat(ns.name(), "/", m.server(), "/", tool));
        const v1::ToolOverride* over = o == overrides.end() ? nullptr : o->second;
        if (over != nullptr && over->disabled()) continue;
        std::string usual =
            ns.disable_prefix() ? tool : jsonrpc::PrefixedName(m.server(), tool);
        std::string name = over != nullptr && !over->name().empty() ? over->name() : usual;
        std::string who = StrCat(m.server(), "/", tool);
        if (name.size() > jsonrpc::kMaxToolNameLength) {
          out.push_back(
              {StrCat("long|", ns.name(), "|", who, "|", name),
               StrCat("namespaces[", ns.name(), "]: tool '", tool, "' of server '", m.server(),
                      "' would be listed as '", name, "', ", name.size(),
                      " characters (MCP allows ", jsonrpc::kMaxToolNameLength,
                      "); rename it with a tool override, e.g. ",
                      OverrideHint(ns.name(), m.server(), tool, Suggest(name, tool)))});
          continue;
        }
        auto [first, inserted] = shown.emplace(name, who);
        if (!inserted) {
          std::string suggestion = Suggest(name, tool);
          out.push_back(
              {StrCat("same|", ns.name(), "|", who, "|", name),
               StrCat("namespaces[", ns.name(), "]: tool '", tool, "' of server '", m.server(),
                      "' would be listed as '", name, "', the name tool '", first->second,
                      "' already has; rename one with a tool override, e.g. ",
                      OverrideHint(ns.name(), m.server(), tool, suggestion))});
        }
      }
    }
  }
  return out;
}

}  // namespace

absl::Status CheckToolNames(const v1::Snapshot& before, const v1::Snapshot& after,
                            const KnownTools& known) {
  if (known.empty()) return absl::OkStatus();
  std::set<std::string> old;
  for (Problem& p : FindProblems(before, known)) old.insert(std::move(p.key));
  std::vector<Problem> fresh;
  for (Problem& p : FindProblems(after, known)) {
    if (!old.count(p.key)) fresh.push_back(std::move(p));
  }
  if (fresh.empty()) return absl::OkStatus();
  std::string message = fresh.front().message;
  if (fresh.size() > 1) message += StrCat(" (and ", fresh.size() - 1, " more)");
  return absl::InvalidArgumentError(message);
}

}  // namespace switchboard::registry
