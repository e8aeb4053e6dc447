#pragma once

// Test helpers: AuthGrpc served in process over a ConfigCache fed by a one-snapshot registry,
// and the decision counter it keeps.

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <sstream>
#include <string>
#include <thread>

#include "services/auth/src/auth_grpc.h"
#include "switchboard/registry/v1/registry.grpc.pb.h"
#include "switchboard/telemetry/metrics.h"

namespace switchboard::auth::testing {

using v1::AuthorizeRequest;
using v1::AuthorizeResponse;

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
inline double Decisions(const std::string& endpoint, const std::string& decision) {
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

class AuthGrpcFixture : public ::testing::Test {
 protected:
  void TearDown() override {
    if (server_) server_->Shutdown(std::chrono::system_clock::now());
    if (cache_) cache_->Stop();
    if (registry_server_) registry_server_->Shutdown(std::chrono::system_clock::now());
  }

  // Runs the registry with `snapshot` (none: a cache that never loads) and AuthGrpc over it,
  // with `jwks` and `limiter` (either may be null).
  void Start(const registry::v1::Snapshot* snapshot, JwksCache* jwks,
             RateLimiter* limiter = nullptr) {
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
    service_ = std::make_unique<AuthGrpc>(cache_.get(), nullptr, jwks, oauth, limiter, max_reuse_);
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

  std::chrono::milliseconds max_reuse_{0};  // AuthGrpc's, set before Start
  std::unique_ptr<OneSnapshotRegistry> registry_;
  std::unique_ptr<grpc::Server> registry_server_;
  std::unique_ptr<configwatch::ConfigCache> cache_;
  std::unique_ptr<AuthGrpc> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::Auth::Stub> stub_;
};

}  // namespace switchboard::auth::testing
