#include "tools/sbctl/src/output.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace switchboard::sbctl {
namespace {

namespace v1 = registry::v1;

TEST(OutputTest, TableAlignsColumnsWithoutTrailingSpaces) {
  EXPECT_EQ(FormatTable({{"NAME", "TYPE"}, {"everything", "STDIO"}, {"x", ""}}),
            "NAME         TYPE\n"
            "everything   STDIO\n"
            "x\n");
}

// Compares `actual` with tools/sbctl/testdata/`name`; SB_UPDATE_GOLDEN=1 rewrites the file.
void ExpectGolden(const std::string& name, const std::string& actual) {
  std::string path = std::string(SBCTL_TESTDATA_DIR) + "/" + name;
  if (std::getenv("SB_UPDATE_GOLDEN") != nullptr) std::ofstream(path) << actual;
  std::ifstream in(path);
  ASSERT_TRUE(in) << "missing golden file " << path << " (run with SB_UPDATE_GOLDEN=1)";
  std::stringstream expected;
  expected << in.rdbuf();
  EXPECT_EQ(actual, expected.str()) << "golden file " << path;
}

v1::ObjectDiff Diff(v1::ObjectDiff::Action action, v1::Change::Kind kind, const std::string& name) {
  v1::ObjectDiff d;
  d.set_action(action);
  d.set_kind(kind);
  d.set_name(name);
  return d;
}

v1::ApplyResponse EveryAction() {
  v1::ApplyResponse response;
  response.set_revision(12);
  *response.add_diff() = Diff(v1::ObjectDiff::ADDED, v1::Change::SERVER, "github");
  v1::ObjectDiff changed = Diff(v1::ObjectDiff::CHANGED, v1::Change::SERVER, "everything");
  auto* f = changed.add_fields();
  f->set_field("args");
  f->set_before(R"(["-y","@modelcontextprotocol/server-everything"])");
  f->set_after(R"(["-y","@modelcontextprotocol/server-everything","stdio"])");
  f = changed.add_fields();
  f->set_field("env.TOKEN");
  f->set_before(R"("***")");
  f->set_after(R"("***")");
  f->set_secret(true);
  f = changed.add_fields();
  f->set_field("env.NEW_KEY");
  f->set_after(R"("***")");
  f->set_secret(true);
  *response.add_diff() = changed;
  *response.add_diff() = Diff(v1::ObjectDiff::UNCHANGED, v1::Change::NAMESPACE, "demo");
  v1::ObjectDiff endpoint = Diff(v1::ObjectDiff::CHANGED, v1::Change::ENDPOINT, "demo");
  f = endpoint.add_fields();
  f->set_field("requestsPerMinute");
  f->set_before("0");
  f->set_after("600");
  *response.add_diff() = endpoint;
  *response.add_diff() = Diff(v1::ObjectDiff::UNCHANGED, v1::Change::USER, "dev@example.com");
  *response.add_diff() =
      Diff(v1::ObjectDiff::ADDED, v1::Change::TOOL_OVERRIDE, "demo/github/create_issue");
  *response.add_diff() =
      Diff(v1::ObjectDiff::REMOVED, v1::Change::TOOL_OVERRIDE, "demo/everything/echo");
  *response.add_diff() = Diff(v1::ObjectDiff::REMOVED, v1::Change::ENDPOINT, "old");
  *response.add_diff() = Diff(v1::ObjectDiff::REMOVED, v1::Change::SERVER, "legacy");
  return response;
}

TEST(OutputTest, ApplyDiffGolden) { ExpectGolden("apply_diff.golden", FormatApplyDiff(EveryAction(), false)); }

TEST(OutputTest, ApplyDiffDryRunGolden) {
  ExpectGolden("apply_diff_dry_run.golden", FormatApplyDiff(EveryAction(), true));
}

TEST(OutputTest, ApplyDiffOfNothingGolden) {
  v1::ApplyResponse response;
  *response.add_diff() = Diff(v1::ObjectDiff::UNCHANGED, v1::Change::SERVER, "everything");
  ExpectGolden("apply_diff_unchanged.golden", FormatApplyDiff(response, true));
}

TEST(OutputTest, KindsComeFromOneTable) {
  EXPECT_EQ(FindKind("servers")->kind, v1::Change::SERVER);
  EXPECT_EQ(FindKind("server")->kind, v1::Change::SERVER);
  EXPECT_EQ(FindKind("api-keys")->kind, v1::Change::API_KEY);
  EXPECT_EQ(FindKind("tooloverride")->kind, v1::Change::TOOL_OVERRIDE);
  EXPECT_EQ(FindKind("nope"), nullptr);
  EXPECT_EQ(KindName(v1::Change::TOOL_OVERRIDE), "tooloverride");
  EXPECT_EQ(KindList(), "servers, namespaces, endpoints, users, tooloverrides, apikeys");
}

TEST(OutputTest, ServersShowSecretNamesButNeverValues) {
  v1::ListServersResponse response;
  auto* s = response.add_servers();
  s->set_name("everything");
  s->set_type("STDIO");
  s->set_command("npx");
  s->add_args("-y");
  s->add_args("two words");
  (*s->mutable_env())["TOKEN"] = "***";
  (*s->mutable_env())["A_FIRST"] = "plain-looking-value";
  auto* r = response.add_servers();
  r->set_name("remote");
  r->set_type("SSE");
  r->set_url("https://example.test/sse");
  r->set_bearer_token("***");
  (*r->mutable_headers())["X-Key"] = "header-value";
  r->set_description("a remote one");
  std::string table = FormatServers(response);
  EXPECT_EQ(table,
            "NAME         TYPE    TARGET                     SECRETS                    "
            "DESCRIPTION\n"
            "everything   STDIO   npx -y 'two words'         env:A_FIRST,env:TOKEN      -\n"
            "remote       SSE     https://example.test/sse   bearerToken,header:X-Key   "
            "a remote one\n");
  EXPECT_EQ(table.find("plain-looking-value"), std::string::npos);
  EXPECT_EQ(table.find("header-value"), std::string::npos);
  EXPECT_EQ(table.find("***"), std::string::npos);
}

TEST(OutputTest, Namespaces) {
  v1::ListNamespacesResponse response;
  auto* n = response.add_namespaces();
  n->set_name("demo");
  n->add_servers()->set_server("everything");
  auto* m = n->add_servers();
  m->set_server("remote");
  m->set_disabled(true);
  EXPECT_EQ(FormatNamespaces(response),
            "NAME   SERVERS                         PREFIX   DESCRIPTION\n"
            "demo   everything, remote (disabled)   on       -\n");
}

TEST(OutputTest, Endpoints) {
  v1::ListEndpointsResponse response;
  auto* e = response.add_endpoints();
  e->set_name("demo");
  e->set_namespace_("demo");
  e->set_enable_api_key_auth(true);
  e->set_enable_oauth(true);
  auto* open = response.add_endpoints();
  open->set_name("open");
  open->set_namespace_("demo");
  EXPECT_EQ(FormatEndpoints(response),
            "NAME   NAMESPACE   PATH                AUTH            DESCRIPTION\n"
            "demo   demo        /metamcp/demo/mcp   api-key,oauth   -\n"
            "open   demo        /metamcp/open/mcp   none            -\n");
}

TEST(OutputTest, Users) {
  v1::ListUsersResponse response;
  auto* u = response.add_users();
  u->set_email("dev@example.com");
  u->set_name("Dev");
  u->set_is_admin(true);
  EXPECT_EQ(FormatUsers(response),
            "EMAIL             NAME   ADMIN\n"
            "dev@example.com   Dev    yes\n");
}

TEST(OutputTest, ApiKeysShowExpiryScopeAndLastUseInUtc) {
  registry::v1::ListApiKeysResponse keys;
  auto* k = keys.add_api_keys();
  k->set_id("k1");
  k->set_user_email("dev@example.com");
  k->set_prefix("sk_sb_ab");
  k->set_expires_unix(1795305600);  // 2026-11-22 00:00 UTC
  k->add_endpoints("demo");
  k->set_last_used_unix(1795285200);  // 2026-11-21 18:20 UTC
  auto* never = keys.add_api_keys();
  never->set_id("k2");
  never->set_user_email("ops@example.com");
  EXPECT_EQ(FormatApiKeys(keys),
            "ID   USER              NAME   PREFIX     EXPIRES                ENDPOINTS   "
            "LAST USED\n"
            "k1   dev@example.com   -      sk_sb_ab   2026-11-22 00:00 UTC   demo        "
            "2026-11-21 18:20 UTC\n"
            "k2   ops@example.com   -      -          never                  all         "
            "never\n");
}

}  // namespace
}  // namespace switchboard::sbctl
