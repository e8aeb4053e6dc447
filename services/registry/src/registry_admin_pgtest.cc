// The registry's admin API behind an admin credential: the admin token, an admin's API key, and
// what a member's API key may and may not do.
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <thread>

#include "services/registry/src/pg_config_store.h"
#include "services/registry/src/registry_grpc.h"
#include "services/registry/src/registry_service.h"
#include "services/registry/src/test_database.h"
#include "switchboard/common/crypto.h"
#include "switchboard/grpcutil/server.h"

namespace switchboard::registry {
namespace {

using namespace std::chrono_literals;

constexpr char kAdminToken[] = "admin-token-for-the-test-0123456789";

class AdminCredentialTest : public testing::Test {
 protected:
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
    RegistryGrpc::AdminAccess access;
    access.required = true;
    access.admin_token_sha256 = crypto::Sha256Hex(kAdminToken);
    grpc_ = std::make_unique<RegistryGrpc>(service_.get(), 256, access);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(grpc_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    stub_ = v1::Registry::NewStub(grpcutil::MakeChannel("127.0.0.1:" + std::to_string(port)));
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

TEST_F(AdminCredentialTest, WatchNeedsNoAdminCredential) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 10s);
  v1::WatchRequest request;
  request.set_watcher("admin-test");
  auto reader = stub_->Watch(&context, request);
  v1::WatchEvent event;
  EXPECT_TRUE(reader->Read(&event));
  EXPECT_TRUE(event.has_snapshot());
  context.TryCancel();
  reader->Finish();
}

}  // namespace
}  // namespace switchboard::registry
