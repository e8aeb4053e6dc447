#include "switchboard/configwatch/config_cache.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <vector>

namespace switchboard::configwatch {
namespace {

using registry::v1::Change;
using registry::v1::WatchEvent;

WatchEvent Snapshot(int64_t revision) {
  WatchEvent e;
  e.set_revision(revision);
  e.mutable_snapshot()->set_revision(revision);
  e.mutable_snapshot()->add_servers()->set_name("alpha");
  return e;
}

WatchEvent AddServer(int64_t revision, std::string name) {
  WatchEvent e;
  e.set_revision(revision);
  auto* c = e.add_changes();
  c->set_op(Change::UPSERT);
  c->set_kind(Change::SERVER);
  c->set_name(name);
  c->mutable_server()->set_name(name);
  return e;
}

// A registry whose Watch streams play a script, one per connection: the events are sent, then
// the stream ends (or, for the last script, stays open until the client goes away).
class ScriptedRegistry final : public registry::v1::Registry::Service {
 public:
  explicit ScriptedRegistry(std::vector<std::vector<WatchEvent>> scripts)
      : scripts_(std::move(scripts)) {}

  grpc::Status Watch(grpc::ServerContext* context, const registry::v1::WatchRequest* request,
                     grpc::ServerWriter<WatchEvent>* writer) override {
    size_t n;
    {
      std::lock_guard<std::mutex> lock(mu_);
      n = from_revisions_.size();
      from_revisions_.push_back(request->from_revision());
      auto it = context->client_metadata().find("authorization");
      authorizations_.push_back(it == context->client_metadata().end()
                                    ? "(none)"
                                    : std::string(it->second.data(), it->second.size()));
    }
    if (n >= scripts_.size()) n = scripts_.size() - 1;
    for (const WatchEvent& e : scripts_[n]) writer->Write(e);
    if (n + 1 < scripts_.size()) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "restart");
    while (!context->IsCancelled()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return grpc::Status::CANCELLED;
  }

  std::vector<int64_t> from_revisions() {
    std::lock_guard<std::mutex> lock(mu_);
    return from_revisions_;
  }
  // The authorization metadata of each Watch, "(none)" when absent.
  std::vector<std::string> authorizations() {
    std::lock_guard<std::mutex> lock(mu_);
    return authorizations_;
  }

 private:
  std::vector<std::vector<WatchEvent>> scripts_;
  std::mutex mu_;
  std::vector<int64_t> from_revisions_;
  std::vector<std::string> authorizations_;
};

// Runs `registry` in process and a ConfigCache against it, recording each published revision.
class ConfigCacheTest : public testing::Test {
 protected:
  void Start(std::vector<std::vector<WatchEvent>> scripts, std::string service_token = {}) {
    registry_ = std::make_unique<ScriptedRegistry>(std::move(scripts));
    grpc::ServerBuilder builder;
    builder.RegisterService(registry_.get());
    server_ = builder.BuildAndStart();
    cache_ = std::make_unique<ConfigCache>(server_->InProcessChannel(grpc::ChannelArguments()),
                                           "test", std::move(service_token));
    cache_->OnChange([this](const std::shared_ptr<const ConfigView>& view) {
      std::lock_guard<std::mutex> lock(mu_);
      seen_.push_back(view->revision());
    });
    cache_->Start();
  }

  // Waits until the cache holds `revision`.
  bool WaitForRevision(int64_t revision) {
    for (int i = 0; i < 1000; ++i) {
      auto view = cache_->Current();
      if (view != nullptr && view->revision() == revision) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
  }

  std::vector<int64_t> Seen() {
    std::lock_guard<std::mutex> lock(mu_);
    return seen_;
  }

  void TearDown() override {
    if (cache_) cache_->Stop();
    if (server_) server_->Shutdown(std::chrono::system_clock::now());
  }

  std::unique_ptr<ScriptedRegistry> registry_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<ConfigCache> cache_;
  std::mutex mu_;
  std::vector<int64_t> seen_;
};

TEST_F(ConfigCacheTest, ResumesFromItsRevisionWithChanges) {
  Start({{Snapshot(3), AddServer(4, "beta")}, {AddServer(5, "gamma")}});
  ASSERT_TRUE(WaitForRevision(5));
  EXPECT_EQ(registry_->from_revisions(), (std::vector<int64_t>{0, 4}));
  auto view = cache_->Current();
  EXPECT_NE(view->FindServer("alpha"), nullptr);
  EXPECT_NE(view->FindServer("beta"), nullptr);
  EXPECT_NE(view->FindServer("gamma"), nullptr);
  EXPECT_EQ(Seen(), (std::vector<int64_t>{3, 4, 5}));
  EXPECT_TRUE(cache_->Synced());
}

TEST_F(ConfigCacheTest, ResumedStreamMayStartWithAFreshSnapshot) {
  // The registry no longer has the changes after 4 (or was reset): a snapshot replaces all.
  Start({{Snapshot(3), AddServer(4, "beta")}, {Snapshot(9)}});
  ASSERT_TRUE(WaitForRevision(9));
  EXPECT_EQ(registry_->from_revisions(), (std::vector<int64_t>{0, 4}));
  EXPECT_EQ(cache_->Current()->FindServer("beta"), nullptr);
  EXPECT_EQ(Seen(), (std::vector<int64_t>{3, 4, 9}));
}

TEST_F(ConfigCacheTest, SendsTheServiceTokenOnEveryWatch) {
  Start({{Snapshot(3)}, {AddServer(4, "beta")}}, "the-service-token");
  ASSERT_TRUE(WaitForRevision(4));
  EXPECT_EQ(registry_->authorizations(),
            (std::vector<std::string>{"Bearer the-service-token", "Bearer the-service-token"}));
}

TEST_F(ConfigCacheTest, SendsNoCredentialWithoutAServiceToken) {
  Start({{Snapshot(3)}});
  ASSERT_TRUE(WaitForRevision(3));
  EXPECT_EQ(registry_->authorizations(), (std::vector<std::string>{"(none)"}));
}

TEST(ConfigCacheNextTest, SkipsChangesItHasAndAcceptsAnEmptyCurrentMarker) {
  EXPECT_EQ(ConfigCache::Next(nullptr, AddServer(4, "beta")), nullptr);
  auto base = ConfigCache::Next(nullptr, Snapshot(3));
  ASSERT_NE(base, nullptr);
  auto v4 = ConfigCache::Next(base, AddServer(4, "beta"));
  ASSERT_NE(v4, nullptr);
  EXPECT_EQ(v4->revision(), 4);
  EXPECT_EQ(ConfigCache::Next(v4, AddServer(4, "beta")), nullptr);  // already applied
  EXPECT_EQ(ConfigCache::Next(v4, AddServer(3, "old")), nullptr);
  WatchEvent current;
  current.set_revision(4);
  EXPECT_EQ(ConfigCache::Next(v4, current), v4);
}

}  // namespace
}  // namespace switchboard::configwatch
