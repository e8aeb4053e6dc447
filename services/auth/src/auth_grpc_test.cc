// AuthGrpc in process, against a registry that streams one snapshot: each call is counted in
// sb_auth_decisions_total with the outcome the edge receives, however the call ended.
#include "services/auth/src/auth_grpc.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <sstream>
#include <thread>

#include "services/auth/src/jwt_testing.h"
#include "switchboard/registry/v1/registry.grpc.pb.h"
#include "switchboard/telemetry/metrics.h"

namespace switchboard::auth {
namespace {

using testing::JwksOf;
using testing::MakeJwt;
using testing::TestKey;
using v1::AuthorizeRequest;
using v1::AuthorizeResponse;

constexpr char kJwksUrl[] = "https://login.example.com/jwks";

// A registry whose Watch stream sends one snapshot and stays open until the client goes away.
class OneSnapshotRegistry final : public registry::v1::Registry::Service {
 public:
  explicit OneSnapshotRegistry(registry::v1::Snapshot snapshot) : snapshot_(std::move(snapshot)) {}

  grpc::Status Watch(grpc::ServerContext* context, const registry::v1::WatchRequest*,
                     grpc::ServerWriter<registry::v1::WatchEvent>* writer) override {
    registry::v1::WatchEvent event;
    event.set_revision(1);
    *event.mutable_snapshot() = snapshot_;
    event.mutable_snapshot()->set_revision(1);
    writer->Write(event);
    while (!context->IsCancelled()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return grpc::Status::CANCELLED;
  }

 private:
  registry::v1::Snapshot snapshot_;
};

// The value of sb_auth_decisions_total{endpoint, decision} (0 before its first increment).
double Decisions(const std::string& endpoint, const std::string& decision) {
  std::istringstream text(telemetry::SerializeMetrics());
  std::string line;
  while (std::getline(text, line)) {
    if (line.rfind("sb_auth_decisions_total{", 0) == 0 &&
        line.find("endpoint=\"" + endpoint + "\"") != std::string::npos &&
        line.find("decision=\"" + decision + "\"") != std::string::npos) {
      return std::stod(line.substr(line.rfind(' ') + 1));
    }
  }
  return 0;
}

class AuthGrpcTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (server_) server_->Shutdown(std::chrono::system_clock::now());
    if (cache_) cache_->Stop();
    if (registry_server_) registry_server_->Shutdown(std::chrono::system_clock::now());
  }

  // Runs the registry with `snapshot` (none: a cache that never loads) and AuthGrpc over it.
  void Start(const registry::v1::Snapshot* snapshot, JwksCache* jwks) {
    if (snapshot != nullptr) {
      registry_ = std::make_unique<OneSnapshotRegistry>(*snapshot);
      grpc::ServerBuilder builder;
      builder.RegisterService(registry_.get());
      registry_server_ = builder.BuildAndStart();
      cache_ = std::make_unique<configwatch::ConfigCache>(
          registry_server_->InProcessChannel(grpc::ChannelArguments()), "test");
      cache_->Start();
      for (int i = 0; i < 1000 && cache_->Current() == nullptr; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      ASSERT_NE(cache_->Current(), nullptr);
    } else {
      // Never started: the channel is never used.
      cache_ = std::make_unique<configwatch::ConfigCache>(
          grpc::CreateChannel("127.0.0.1:1", grpc::InsecureChannelCredentials()), "test");
    }
    OauthOptions oauth;
    oauth.public_base_url = "https://mcp.example.com";
    service_ = std::make_unique<AuthGrpc>(cache_.get(), nullptr, jwks, oauth, nullptr);
    grpc::ServerBuilder builder;
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    stub_ = v1::Auth::NewStub(server_->InProcessChannel(grpc::ChannelArguments()));
  }

  grpc::Status Call(const AuthorizeRequest& request, AuthorizeResponse* response) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return stub_->Authorize(&context, request, response);
  }

  std::unique_ptr<OneSnapshotRegistry> registry_;
  std::unique_ptr<grpc::Server> registry_server_;
  std::unique_ptr<configwatch::ConfigCache> cache_;
  std::unique_ptr<AuthGrpc> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::Auth::Stub> stub_;
};

TEST_F(AuthGrpcTest, ATokenDecidedAfterAKeyFetchIsCountedAsItsDecision) {
  TestKey key = TestKey::Ec("k1");
  JwksCacheOptions options;
  options.min_fetch_gap = std::chrono::milliseconds(0);
  JwksCache jwks(
      [&key](const std::string&) -> absl::StatusOr<std::string> { return JwksOf({&key}); },
      options);
  jwks.Start();
  registry::v1::Snapshot s;
  auto* ep = s.add_endpoints();
  ep->set_name("grpc-team");
  ep->set_namespace_("ns");
  ep->set_enable_oauth(true);
  ep->add_oauth_issuers("https://login.example.com");
  ep->set_oauth_jwks_url(kJwksUrl);
  Start(&s, &jwks);

  int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  AuthorizeRequest request;
  request.set_endpoint("grpc-team");
  request.set_credential_source("authorization");
  request.set_credential(MakeJwt(key, {{"iss", "https://login.example.com"},
                                       {"aud", "https://mcp.example.com/metamcp/grpc-team/mcp"},
                                       {"sub", "svc-7"},
                                       {"exp", now + 600}}));
  double before = Decisions("grpc-team", "allow");
  AuthorizeResponse response;
  // The cache holds no keys yet: the call waits for one fetch, then is allowed.
  grpc::Status status = Call(request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.decision(), AuthorizeResponse::ALLOW) << response.reason();
  EXPECT_EQ(response.user_email(), "svc-7");
  EXPECT_EQ(jwks.fetches(), 1);
  EXPECT_EQ(Decisions("grpc-team", "allow"), before + 1);
  jwks.Stop();
}

TEST_F(AuthGrpcTest, NoConfigurationYetIsUnavailableAndCounted) {
  Start(nullptr, nullptr);
  double before = Decisions("", "unavailable");
  AuthorizeRequest request;
  request.set_endpoint("anything");
  AuthorizeResponse response;
  EXPECT_EQ(Call(request, &response).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(Decisions("", "unavailable"), before + 1);
}

}  // namespace
}  // namespace switchboard::auth
