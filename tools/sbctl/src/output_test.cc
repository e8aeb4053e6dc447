#include "tools/sbctl/src/output.h"

#include <gtest/gtest.h>

namespace switchboard::sbctl {
namespace {

namespace v1 = registry::v1;

TEST(OutputTest, TableAlignsColumnsWithoutTrailingSpaces) {
  EXPECT_EQ(FormatTable({{"NAME", "TYPE"}, {"everything", "STDIO"}, {"x", ""}}),
            "NAME         TYPE\n"
            "everything   STDIO\n"
            "x\n");
}

TEST(OutputTest, ApplyResultOneLinePerObject) {
  v1::ApplyRequest request;
  request.add_servers()->set_name("everything");
  request.add_servers()->set_name("remote");
  request.add_namespaces()->set_name("demo");
  request.add_endpoints()->set_name("demo");
  request.add_users()->set_email("dev@example.com");
  v1::ApplyResponse response;
  auto* c = response.add_changes();
  c->set_kind(v1::Change::SERVER);
  c->set_name("everything");
  c = response.add_changes();
  c->set_kind(v1::Change::ENDPOINT);
  c->set_name("demo");
  EXPECT_EQ(FormatApplyResult(request, response),
            "server/everything configured\n"
            "server/remote unchanged\n"
            "namespace/demo unchanged\n"
            "endpoint/demo configured\n"
            "user/dev@example.com unchanged\n");
  request.set_dry_run(true);
  EXPECT_EQ(FormatApplyResult(request, response).substr(0, 40),
            "server/everything configured (dry run)\ns");
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

}  // namespace
}  // namespace switchboard::sbctl
