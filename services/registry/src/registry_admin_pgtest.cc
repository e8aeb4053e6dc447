// The registry's admin API behind an admin credential: the admin token, an admin's API key, and
// what a member's API key may and may not do; the other services' calls behind the service
// token; the audit log naming the caller so identified.
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <thread>

#include "services/registry/src/pg_config_store.h"
#include "services/registry/src/registry_grpc.h"
#include "services/registry/src/registry_service.h"
#include "services/registry/src/test_database.h"
#include "switchboard/common/crypto.h"
#include "switchboard/configwatch/config_cache.h"
#include "switchboard/grpcutil/server.h"

namespace switchboard::registry {
namespace {

using namespace std::chrono_literals;

constexpr char kAdminToken[] = "admin-token-for-the-test-0123456789";
constexpr char kServiceToken[] = "service-token-for-the-test-9876543210";

class AdminCredentialTest : public testing::Test {
 protected:
  // How the registry under test is set up: both tokens.
  virtual RegistryGrpc::AdminAccess Access() {
    RegistryGrpc::AdminAccess access;
    access.required = true;
    access.admin_token_sha256 = crypto::Sha256Hex(kAdminToken);
    access.service_token_sha256 = crypto::Sha256Hex(kServiceToken);
    return access;
  }

  void SetUp() override {
    auto db = TestDatabase::Create();
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    ASSERT_TRUE(db_->Migrate().ok());
    std::string url = db_->url();
    service_ = std::make_unique<RegistryService>(
        [url] { return std::make_unique<PgConfigStore>(url); },
        RegistryOptions{.poll_interval = 200ms, .retry_backoff = 200ms});
    ASSERT_TRUE(service_->Start().ok());
    grpc_ = std::make_unique<RegistryGrpc>(service_.get(), 256, Access());
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(grpc_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    address_ = "127.0.0.1:" + std::to_string(port);
    stub_ = v1::Registry::NewStub(grpcutil::MakeChannel(address_));
  }

  void TearDown() override {
    stub_.reset();
    if (server_ != nullptr) {
      service_->watch_hub().CloseAll();
      server_->Shutdown(std::chrono::system_clock::now() + 5s);
    }
    if (service_ != nullptr) service_->Stop();
  }

  // Calls `method` with `secret` as the admin credential ("" = none): the call's status.
  template <typename Response, typename Request, typename Method>
  absl::StatusOr<Response> Call(Method method, const Request& request, const std::string& secret) {
    return grpcutil::CallUnary<Response>(*stub_, method, request, 10s,
                                         secret.empty() ? "" : "Bearer " + secret);
  }

  // The same, also claiming to be `claimed_actor` in x-sb-actor metadata.
  template <typename Response, typename Request, typename Stub>
  absl::StatusOr<Response> CallClaiming(grpc::Status (Stub::*method)(grpc::ClientContext*,
                                                                     const Request&, Response*),
                                        const Request& request, const std::string& secret,
                                        const std::string& claimed_actor) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 10s);
    if (!secret.empty()) context.AddMetadata("authorization", "Bearer " + secret);
    context.AddMetadata("x-sb-actor", claimed_actor);
    Response response;
    grpc::Status status = (stub_.get()->*method)(&context, request, &response);
    if (!status.ok()) return grpcutil::ToAbsl(status);
    return response;
  }

  // Opens a Watch with `secret` ("" = none): OK once its snapshot arrived, else the refusal.
  grpc::Status WatchWith(const std::string& secret) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 10s);
    if (!secret.empty()) context.AddMetadata("authorization", "Bearer " + secret);
    v1::WatchRequest request;
    request.set_watcher("admin-test");
    auto reader = stub_->Watch(&context, request);
    v1::WatchEvent event;
    if (reader->Read(&event)) {
      context.TryCancel();
      reader->Finish();
      return event.has_snapshot() ? grpc::Status::OK
                                  : grpc::Status(grpc::StatusCode::INTERNAL, "no snapshot first");
    }
    grpc::Status status = reader->Finish();
    return status.ok() ? grpc::Status(grpc::StatusCode::INTERNAL, "ended without events") : status;
  }

  // The audit log as "actor action KIND name" lines, oldest first.
  std::vector<std::string> AuditLines() {
    auto audit = Call<v1::ListAuditResponse>(&v1::Registry::Stub::ListAudit, v1::ListAuditRequest(),
                                             kAdminToken);
    EXPECT_TRUE(audit.ok()) << audit.status();
    std::vector<std::string> lines;
    if (!audit.ok()) return lines;
    for (const v1::AuditEntry& e : audit->entries()) {
      lines.insert(lines.begin(), e.actor() + " " + e.action() + " " +
                                      v1::Change::Kind_Name(e.kind()) + " " + e.name());
    }
    return lines;
  }

  // An apply of two users: admin@example.com, an admin, and dev@example.com, a member.
  static v1::ApplyRequest AdminAndMember() {
    v1::ApplyRequest config;
    auto* admin = config.add_users();
    admin->set_email("admin@example.com");
    admin->set_is_admin(true);
    config.add_users()->set_email("dev@example.com");
    return config;
  }

  v1::CreateServerRequest Server(const std::string& name, const std::string& type) {
    v1::CreateServerRequest r;
    r.mutable_server()->set_name(name);
    r.mutable_server()->set_type(type);
    if (type == "STDIO") {
      r.mutable_server()->set_command("sh");
    } else {
      r.mutable_server()->set_url("https://mcp.example.com/mcp");
    }
    return r;
  }

  std::string KeyFor(const std::string& email) {
    v1::CreateApiKeyRequest r;
    r.set_user_email(email);
    auto created = Call<v1::CreateApiKeyResponse>(&v1::Registry::Stub::CreateApiKey, r, kAdminToken);
    EXPECT_TRUE(created.ok()) << created.status();
    return created.ok() ? created->key() : "";
  }

  // Waits until the registry's own snapshot holds `n` API keys (it identifies callers from it).
  void WaitForKeys(int n) {
    for (int i = 0; i < 250; ++i) {
      auto snapshot = service_->watch_hub().snapshot();
      if (snapshot != nullptr && snapshot->api_keys_size() >= n) return;
      std::this_thread::sleep_for(20ms);
    }
    FAIL() << "the registry never saw the new keys";
  }

  std::unique_ptr<TestDatabase> db_;
  std::unique_ptr<RegistryService> service_;
  std::unique_ptr<RegistryGrpc> grpc_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
  std::unique_ptr<v1::Registry::Stub> stub_;
};

TEST_F(AdminCredentialTest, AdminTokenMemberAndAdminKeys) {
  v1::ApplyRequest config;
  auto* admin = config.add_users();
  admin->set_email("admin@example.com");
  admin->set_is_admin(true);
  config.add_users()->set_email("dev@example.com");

  // Without a credential, or with a wrong one, nothing is allowed.
  auto none = Call<v1::ApplyResponse>(&v1::Registry::Stub::Apply, config, "");
  EXPECT_EQ(none.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(none.status().message().find("admin credential is required"), std::string::npos);
  auto wrong = Call<v1::ListNamespacesResponse>(&v1::Registry::Stub::ListNamespaces,
                                                v1::ListRequest(), "not-the-token");
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kUnauthenticated);

  ASSERT_TRUE(Call<v1::ApplyResponse>(&v1::Registry::Stub::Apply, config, kAdminToken).ok());
  std::string admin_key = KeyFor("admin@example.com");
  std::string member_key = KeyFor("dev@example.com");
  WaitForKeys(2);

  // A member reads and writes what runs no command anywhere...
  EXPECT_TRUE(Call<v1::ListNamespacesResponse>(&v1::Registry::Stub::ListNamespaces,
                                               v1::ListRequest(), member_key)
                  .ok());
  auto remote = Call<v1::ServerResponse>(&v1::Registry::Stub::CreateServer,
                                         Server("remote", "STREAMABLE_HTTP"), member_key);
  EXPECT_TRUE(remote.ok()) << remote.status();
  v1::CreateApiKeyRequest own;
  own.set_user_email("dev@example.com");
  EXPECT_TRUE(
      Call<v1::CreateApiKeyResponse>(&v1::Registry::Stub::CreateApiKey, own, member_key).ok());

  // ...but no STDIO server (created, or made by an update), users, others' keys, secrets, apply.
  auto stdio = Call<v1::ServerResponse>(&v1::Registry::Stub::CreateServer,
                                        Server("shell", "STDIO"), member_key);
  EXPECT_EQ(stdio.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(stdio.status().message().find("STDIO"), std::string::npos);
  v1::UpdateServerRequest to_stdio;
  *to_stdio.mutable_server() = Server("remote", "STDIO").server();
  to_stdio.set_expected_revision(remote.ok() ? remote->revision() : 0);
  EXPECT_EQ(Call<v1::ServerResponse>(&v1::Registry::Stub::UpdateServer, to_stdio, member_key)
                .status()
                .code(),
            absl::StatusCode::kPermissionDenied);
  v1::CreateApiKeyRequest others;
  others.set_user_email("admin@example.com");
  EXPECT_EQ(Call<v1::CreateApiKeyResponse>(&v1::Registry::Stub::CreateApiKey, others, member_key)
                .status()
                .code(),
            absl::StatusCode::kPermissionDenied);
  v1::CreateUserRequest promote;
  promote.mutable_user()->set_email("dev2@example.com");
  promote.mutable_user()->set_is_admin(true);
  EXPECT_EQ(
      Call<v1::UserResponse>(&v1::Registry::Stub::CreateUser, promote, member_key).status().code(),
      absl::StatusCode::kPermissionDenied);
  v1::ListRequest secrets;
  secrets.set_include_secrets(true);
  EXPECT_EQ(Call<v1::ListServersResponse>(&v1::Registry::Stub::ListServers, secrets, member_key)
                .status()
                .code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Call<v1::ApplyResponse>(&v1::Registry::Stub::Apply, config, member_key).status().code(),
            absl::StatusCode::kPermissionDenied);

  // An admin's key may do all of it.
  auto by_admin = Call<v1::ServerResponse>(&v1::Registry::Stub::CreateServer,
                                           Server("shell", "STDIO"), admin_key);
  EXPECT_TRUE(by_admin.ok()) << by_admin.status();
  EXPECT_TRUE(
      Call<v1::ListServersResponse>(&v1::Registry::Stub::ListServers, secrets, admin_key).ok());

  // Revoking the member's key ends its access (once the registry's snapshot has the change).
  auto keys = Call<v1::ListApiKeysResponse>(&v1::Registry::Stub::ListApiKeys,
                                            v1::ListApiKeysRequest(), kAdminToken);
  ASSERT_TRUE(keys.ok());
  for (const auto& key : keys->api_keys()) {
    v1::DeleteRequest del;
    del.set_kind(v1::Change::API_KEY);
    del.set_name(key.id());
    if (key.user_email() == "dev@example.com") {
      ASSERT_TRUE(Call<v1::DeleteResponse>(&v1::Registry::Stub::Delete, del, kAdminToken).ok());
    }
  }
  absl::StatusCode code = absl::StatusCode::kOk;
  for (int i = 0; i < 250 && code != absl::StatusCode::kUnauthenticated; ++i) {
    code = Call<v1::ListNamespacesResponse>(&v1::Registry::Stub::ListNamespaces,
                                            v1::ListRequest(), member_key)
               .status()
               .code();
    if (code != absl::StatusCode::kUnauthenticated) std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(code, absl::StatusCode::kUnauthenticated);
}

TEST_F(AdminCredentialTest, OauthEndpointSettingsRoundTripAndBadOnesNameTheField) {
  v1::CreateNamespaceRequest ns;
  ns.mutable_namespace_()->set_name("team");
  ASSERT_TRUE(Call<v1::NamespaceResponse>(&v1::Registry::Stub::CreateNamespace, ns, kAdminToken).ok());
  v1::CreateEndpointRequest create;
  v1::Endpoint* ep = create.mutable_endpoint();
  ep->set_name("team");
  ep->set_namespace_("team");
  ep->set_enable_oauth(true);
  ep->add_oauth_issuers("https://login.example.com/");
  ep->set_oauth_jwks_url("https://login.example.com/jwks");
  ep->add_oauth_required_scopes("mcp:tools");
  ep->add_oauth_required_scopes("read");
  ep->set_oauth_audience("api://team");
  auto created = Call<v1::EndpointResponse>(&v1::Registry::Stub::CreateEndpoint, create, kAdminToken);
  ASSERT_TRUE(created.ok()) << created.status();
  v1::GetRequest get;
  get.set_name("team");
  auto got = Call<v1::EndpointResponse>(&v1::Registry::Stub::GetEndpoint, get, kAdminToken);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->endpoint().DebugString(), create.endpoint().DebugString());

  v1::UpdateEndpointRequest update;
  *update.mutable_endpoint() = create.endpoint();
  update.mutable_endpoint()->set_oauth_jwks_url("ftp://keys.example.com");
  update.set_expected_revision(got->revision());
  auto bad = Call<v1::EndpointResponse>(&v1::Registry::Stub::UpdateEndpoint, update, kAdminToken);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message(),
            "endpoint.oauth_jwks_url: 'ftp://keys.example.com' must be an https:// URL");
  update.mutable_endpoint()->set_oauth_jwks_url("");
  bad = Call<v1::EndpointResponse>(&v1::Registry::Stub::UpdateEndpoint, update, kAdminToken);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("endpoint.oauth_jwks_url: required when enable_oauth"),
            std::string::npos)
      << bad.status();
}

TEST_F(AdminCredentialTest, InternalCallsNeedTheServiceTokenOrAnAdmin) {
  v1::ApplyRequest config = AdminAndMember();
  ASSERT_TRUE(Call<v1::ApplyResponse>(&v1::Registry::Stub::Apply, config, kAdminToken).ok());
  std::string admin_key = KeyFor("admin@example.com");
  std::string member_key = KeyFor("dev@example.com");
  WaitForKeys(2);

  // Watch streams every secret of the configuration: nobody without a credential gets it.
  grpc::Status none = WatchWith("");
  EXPECT_EQ(none.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_NE(none.error_message().find("Watch needs a service credential"), std::string::npos)
      << none.error_message();
  EXPECT_EQ(WatchWith("not-the-token").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  grpc::Status member = WatchWith(member_key);
  EXPECT_EQ(member.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_NE(member.error_message().find("not a member's API key"), std::string::npos);
  EXPECT_TRUE(WatchWith(kServiceToken).ok());
  EXPECT_TRUE(WatchWith(kAdminToken).ok());
  EXPECT_TRUE(WatchWith(admin_key).ok());

  v1::RecordApiKeyUseRequest use;
  use.add_uses()->set_id("no-such-key");
  use.mutable_uses(0)->set_used_unix(1800000000);
  using UseResponse = v1::RecordApiKeyUseResponse;
  EXPECT_EQ(Call<UseResponse>(&v1::Registry::Stub::RecordApiKeyUse, use, "").status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(
      Call<UseResponse>(&v1::Registry::Stub::RecordApiKeyUse, use, member_key).status().code(),
      absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(Call<UseResponse>(&v1::Registry::Stub::RecordApiKeyUse, use, kServiceToken).ok());
  EXPECT_TRUE(Call<UseResponse>(&v1::Registry::Stub::RecordApiKeyUse, use, kAdminToken).ok());

  v1::RecordServerToolsRequest tools;
  tools.add_servers()->set_server("ghost");
  using ToolsResponse = v1::RecordServerToolsResponse;
  EXPECT_EQ(Call<ToolsResponse>(&v1::Registry::Stub::RecordServerTools, tools, "").status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(Call<ToolsResponse>(&v1::Registry::Stub::RecordServerTools, tools, member_key)
                .status()
                .code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(
      Call<ToolsResponse>(&v1::Registry::Stub::RecordServerTools, tools, kServiceToken).ok());

  // The service token is no admin credential.
  auto listed = Call<v1::ListNamespacesResponse>(&v1::Registry::Stub::ListNamespaces,
                                                 v1::ListRequest(), kServiceToken);
  EXPECT_EQ(listed.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(
      Call<v1::ApplyResponse>(&v1::Registry::Stub::Apply, config, kServiceToken).status().code(),
      absl::StatusCode::kPermissionDenied);

  // The services' cache follows with the token and never syncs without it.
  configwatch::ConfigCache with_token(grpcutil::MakeChannel(address_), "edge", kServiceToken);
  configwatch::ConfigCache without(grpcutil::MakeChannel(address_), "edge");
  with_token.Start();
  without.Start();
  ASSERT_TRUE(with_token.WaitSynced(10000));
  EXPECT_NE(with_token.Current()->FindUser("dev@example.com"), nullptr);
  EXPECT_FALSE(without.WaitSynced(500));
  with_token.Stop();
  without.Stop();
}

// A registry with neither an admin nor a service token (as before either existed): the
// internal calls stay open, the admin API still needs an admin's key.
class NoTokenTest : public AdminCredentialTest {
 protected:
  RegistryGrpc::AdminAccess Access() override {
    RegistryGrpc::AdminAccess access;
    access.required = true;
    return access;
  }
};

TEST_F(NoTokenTest, InternalCallsStayOpenWithoutAnyToken) {
  EXPECT_TRUE(WatchWith("").ok());
  v1::RecordApiKeyUseRequest use;
  use.add_uses()->set_id("no-such-key");
  EXPECT_TRUE(
      Call<v1::RecordApiKeyUseResponse>(&v1::Registry::Stub::RecordApiKeyUse, use, "").ok());
  EXPECT_EQ(
      Call<v1::ListNamespacesResponse>(&v1::Registry::Stub::ListNamespaces, v1::ListRequest(), "")
          .status()
          .code(),
      absl::StatusCode::kUnauthenticated);
}

TEST_F(AdminCredentialTest, AuditNamesTheAuthenticatedCallerNotTheClaimedOne) {
  ASSERT_TRUE(
      CallClaiming(&v1::Registry::Stub::Apply, AdminAndMember(), kAdminToken, "mallory").ok());
  std::string admin_key = KeyFor("admin@example.com");
  std::string member_key = KeyFor("dev@example.com");
  WaitForKeys(2);

  ASSERT_TRUE(CallClaiming(&v1::Registry::Stub::CreateServer, Server("shell", "STDIO"), admin_key,
                           "mallory")
                  .ok());
  ASSERT_TRUE(CallClaiming(&v1::Registry::Stub::CreateServer, Server("web", "STREAMABLE_HTTP"),
                           member_key, "admin@example.com")
                  .ok());
  v1::DeleteRequest del;
  del.set_kind(v1::Change::SERVER);
  del.set_name("web");
  ASSERT_TRUE(CallClaiming(&v1::Registry::Stub::Delete, del, member_key, "mallory").ok());

  std::vector<std::string> lines = AuditLines();
  ASSERT_EQ(lines.size(), 7u);
  EXPECT_EQ(lines[0], "admin-token apply USER admin@example.com");
  EXPECT_EQ(lines[1], "admin-token apply USER dev@example.com");
  EXPECT_EQ(lines[2].rfind("admin-token create API_KEY ", 0), 0u) << lines[2];
  EXPECT_EQ(lines[3].rfind("admin-token create API_KEY ", 0), 0u) << lines[3];
  EXPECT_EQ(lines[4], "admin@example.com create SERVER shell");
  EXPECT_EQ(lines[5], "dev@example.com create SERVER web");
  EXPECT_EQ(lines[6], "dev@example.com delete SERVER web");
}

TEST_F(AdminCredentialTest, MembersCannotChangeOrDeleteStdioServers) {
  ASSERT_TRUE(
      Call<v1::ApplyResponse>(&v1::Registry::Stub::Apply, AdminAndMember(), kAdminToken).ok());
  std::string admin_key = KeyFor("admin@example.com");
  std::string member_key = KeyFor("dev@example.com");
  WaitForKeys(2);
  auto shell = Call<v1::ServerResponse>(&v1::Registry::Stub::CreateServer, Server("shell", "STDIO"),
                                        kAdminToken);
  ASSERT_TRUE(shell.ok()) << shell.status();
  auto web = Call<v1::ServerResponse>(&v1::Registry::Stub::CreateServer,
                                      Server("web", "STREAMABLE_HTTP"), member_key);
  ASSERT_TRUE(web.ok()) << web.status();
  auto expect_denied = [](const absl::Status& status, const std::string& server) {
    EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied) << status;
    EXPECT_NE(status.message().find("server '" + server + "' is a STDIO server"), std::string::npos)
        << status;
  };

  // Creating one, or changing one (its command, or into a remote server), is refused...
  expect_denied(Call<v1::ServerResponse>(&v1::Registry::Stub::CreateServer,
                                         Server("shell2", "STDIO"), member_key)
                    .status(),
                "shell2");
  v1::UpdateServerRequest update;
  *update.mutable_server() = Server("shell", "STDIO").server();
  update.mutable_server()->set_command("bash");
  update.set_expected_revision(shell->revision());
  expect_denied(
      Call<v1::ServerResponse>(&v1::Registry::Stub::UpdateServer, update, member_key).status(),
      "shell");
  *update.mutable_server() = Server("shell", "STREAMABLE_HTTP").server();
  expect_denied(
      Call<v1::ServerResponse>(&v1::Registry::Stub::UpdateServer, update, member_key).status(),
      "shell");
  // ...as is turning a remote server into one.
  v1::UpdateServerRequest to_stdio;
  *to_stdio.mutable_server() = Server("web", "STDIO").server();
  to_stdio.set_expected_revision(web->revision());
  expect_denied(
      Call<v1::ServerResponse>(&v1::Registry::Stub::UpdateServer, to_stdio, member_key).status(),
      "web");
  // ...and deleting one.
  v1::DeleteRequest del;
  del.set_kind(v1::Change::SERVER);
  del.set_name("shell");
  expect_denied(Call<v1::DeleteResponse>(&v1::Registry::Stub::Delete, del, member_key).status(),
                "shell");
  EXPECT_EQ(db_->Query("SELECT type, command FROM servers WHERE name = 'shell'"),
            (std::vector<std::vector<std::string>>{{"STDIO", "sh"}}));

  // Apply is an admin's, dry run included: it could create, change or prune STDIO servers.
  v1::ApplyRequest stdio_apply;
  *stdio_apply.add_servers() = Server("shell3", "STDIO").server();
  stdio_apply.set_dry_run(true);
  EXPECT_EQ(
      Call<v1::ApplyResponse>(&v1::Registry::Stub::Apply, stdio_apply, member_key).status().code(),
      absl::StatusCode::kPermissionDenied);
  v1::ApplyRequest prune;
  prune.set_mode(v1::ApplyRequest::PRUNE);
  *prune.add_servers() = Server("web", "STREAMABLE_HTTP").server();
  EXPECT_EQ(Call<v1::ApplyResponse>(&v1::Registry::Stub::Apply, prune, member_key).status().code(),
            absl::StatusCode::kPermissionDenied);

  // Remote servers stay a member's to change and delete; STDIO ones an admin's.
  v1::UpdateServerRequest remote;
  *remote.mutable_server() = Server("web", "STREAMABLE_HTTP").server();
  remote.mutable_server()->set_description("moved");
  remote.set_expected_revision(web->revision());
  EXPECT_TRUE(Call<v1::ServerResponse>(&v1::Registry::Stub::UpdateServer, remote, member_key).ok());
  v1::DeleteRequest del_web;
  del_web.set_kind(v1::Change::SERVER);
  del_web.set_name("web");
  EXPECT_TRUE(Call<v1::DeleteResponse>(&v1::Registry::Stub::Delete, del_web, member_key).ok());
  *update.mutable_server() = Server("shell", "STDIO").server();
  update.mutable_server()->set_command("bash");
  EXPECT_TRUE(Call<v1::ServerResponse>(&v1::Registry::Stub::UpdateServer, update, admin_key).ok());
  EXPECT_TRUE(Call<v1::DeleteResponse>(&v1::Registry::Stub::Delete, del, admin_key).ok());
  EXPECT_EQ(db_->Query("SELECT count(*) FROM servers")[0][0], "0");
}

}  // namespace
}  // namespace switchboard::registry
