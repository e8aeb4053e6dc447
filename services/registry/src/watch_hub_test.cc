#include "services/registry/src/watch_hub.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "switchboard/configwatch/config_view.h"

namespace switchboard::registry {
namespace {

// Records events; refuses them once `capacity` are held, like a stream that cannot keep up.
class RecordingSubscriber : public WatchSubscriber {
 public:
  explicit RecordingSubscriber(size_t capacity = 1000) : capacity_(capacity) {}
  bool Push(std::shared_ptr<const v1::WatchEvent> event) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_ || events_.size() >= capacity_) return false;
    events_.push_back(std::move(event));
    return true;
  }
  void Close() override {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
  }
  std::vector<std::shared_ptr<const v1::WatchEvent>> events() {
    std::lock_guard<std::mutex> lock(mu_);
    return events_;
  }
  bool closed() {
    std::lock_guard<std::mutex> lock(mu_);
    return closed_;
  }

 private:
  size_t capacity_;
  std::mutex mu_;
  std::vector<std::shared_ptr<const v1::WatchEvent>> events_;
  bool closed_ = false;
};

v1::Snapshot WithServers(int64_t revision, std::vector<std::string> names) {
  v1::Snapshot s;
  s.set_revision(revision);
  for (const auto& n : names) {
    auto* server = s.add_servers();
    server->set_name(n);
    server->set_type("STDIO");
    server->set_command("cmd-" + n);
  }
  return s;
}

TEST(WatchHubTest, RefusesSubscribersBeforeTheFirstSnapshot) {
  WatchHub hub;
  auto sub = std::make_shared<RecordingSubscriber>();
  EXPECT_EQ(hub.Subscribe(sub).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(hub.subscriber_count(), 0u);
}

TEST(WatchHubTest, FirstEventIsTheSnapshotThenChanges) {
  WatchHub hub;
  EXPECT_EQ(hub.Update(WithServers(3, {"a"})), 0u);
  auto sub = std::make_shared<RecordingSubscriber>();
  ASSERT_TRUE(hub.Subscribe(sub).ok());
  EXPECT_EQ(hub.Update(WithServers(4, {"a", "b"})), 1u);

  auto events = sub->events();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0]->revision(), 3);
  ASSERT_TRUE(events[0]->has_snapshot());
  EXPECT_EQ(events[0]->snapshot().servers_size(), 1);
  EXPECT_TRUE(events[0]->changes().empty());
  EXPECT_EQ(events[1]->revision(), 4);
  EXPECT_FALSE(events[1]->has_snapshot());
  ASSERT_EQ(events[1]->changes_size(), 1);
  EXPECT_EQ(events[1]->changes(0).name(), "b");
  EXPECT_EQ(hub.revision(), 4);
}

TEST(WatchHubTest, NothingIsSentWhenNothingMoved) {
  WatchHub hub;
  hub.Update(WithServers(3, {"a"}));
  auto sub = std::make_shared<RecordingSubscriber>();
  ASSERT_TRUE(hub.Subscribe(sub).ok());
  hub.Update(WithServers(3, {"a"}));
  EXPECT_EQ(sub->events().size(), 1u);
  // A new revision with the same content still moves watchers' revision forward.
  hub.Update(WithServers(4, {"a"}));
  auto events = sub->events();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1]->revision(), 4);
  EXPECT_TRUE(events[1]->changes().empty());
}

TEST(WatchHubTest, IgnoresASnapshotOlderThanTheCurrentOne) {
  WatchHub hub;
  hub.Update(WithServers(5, {"a", "b"}));
  auto sub = std::make_shared<RecordingSubscriber>();
  ASSERT_TRUE(hub.Subscribe(sub).ok());
  EXPECT_EQ(hub.Update(WithServers(4, {"a"})), 0u);
  EXPECT_EQ(hub.revision(), 5);
  EXPECT_EQ(hub.snapshot()->servers_size(), 2);
  EXPECT_EQ(sub->events().size(), 1u);
}

TEST(WatchHubTest, DropsASubscriberThatCannotKeepUp) {
  WatchHub hub;
  hub.Update(WithServers(1, {}));
  auto slow = std::make_shared<RecordingSubscriber>(2);
  auto fast = std::make_shared<RecordingSubscriber>();
  ASSERT_TRUE(hub.Subscribe(slow).ok());
  ASSERT_TRUE(hub.Subscribe(fast).ok());
  hub.Update(WithServers(2, {"a"}));
  EXPECT_EQ(hub.subscriber_count(), 2u);
  hub.Update(WithServers(3, {"a", "b"}));
  EXPECT_EQ(hub.subscriber_count(), 1u);
  hub.Update(WithServers(4, {"a", "b", "c"}));
  EXPECT_EQ(slow->events().size(), 2u);
  EXPECT_EQ(fast->events().size(), 4u);
}

TEST(WatchHubTest, UnsubscribeStopsDelivery) {
  WatchHub hub;
  hub.Update(WithServers(1, {}));
  auto sub = std::make_shared<RecordingSubscriber>();
  ASSERT_TRUE(hub.Subscribe(sub).ok());
  hub.Unsubscribe(sub.get());
  hub.Unsubscribe(sub.get());  // twice is harmless
  hub.Update(WithServers(2, {"a"}));
  EXPECT_EQ(sub->events().size(), 1u);
}

TEST(WatchHubTest, CloseAllClosesAndRefusesNewSubscribers) {
  WatchHub hub;
  hub.Update(WithServers(1, {}));
  auto sub = std::make_shared<RecordingSubscriber>();
  ASSERT_TRUE(hub.Subscribe(sub).ok());
  hub.CloseAll();
  EXPECT_TRUE(sub->closed());
  EXPECT_EQ(hub.subscriber_count(), 0u);
  EXPECT_EQ(hub.Subscribe(std::make_shared<RecordingSubscriber>()).code(),
            absl::StatusCode::kUnavailable);
}

TEST(WatchHubTest, ResumesFromAKeptRevisionWithTheChangesAfterIt) {
  WatchHub hub;
  hub.Update(WithServers(3, {"a"}));
  hub.Update(WithServers(4, {"a", "b"}));
  hub.Update(WithServers(7, {"b"}));  // one step from 4 to 7
  hub.Update(WithServers(8, {"b", "c"}));

  auto sub = std::make_shared<RecordingSubscriber>();
  bool resumed = false;
  ASSERT_TRUE(hub.Subscribe(sub, 4, &resumed).ok());
  EXPECT_TRUE(resumed);
  auto events = sub->events();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_FALSE(events[0]->has_snapshot());
  EXPECT_EQ(events[0]->revision(), 7);
  ASSERT_EQ(events[0]->changes_size(), 1);
  EXPECT_EQ(events[0]->changes(0).op(), v1::Change::DELETE);
  EXPECT_EQ(events[0]->changes(0).name(), "a");
  EXPECT_EQ(events[1]->revision(), 8);

  // From the oldest kept revision (the first snapshot's) every step comes.
  auto from_start = std::make_shared<RecordingSubscriber>();
  ASSERT_TRUE(hub.Subscribe(from_start, 3, &resumed).ok());
  EXPECT_TRUE(resumed);
  EXPECT_EQ(from_start->events().size(), 3u);

  // Live changes follow the replayed ones.
  hub.Update(WithServers(9, {"c"}));
  events = sub->events();
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[2]->revision(), 9);
}

TEST(WatchHubTest, AWatcherAlreadyCurrentGetsOnlyTheRevision) {
  WatchHub hub;
  hub.Update(WithServers(3, {"a"}));
  hub.Update(WithServers(4, {"a", "b"}));
  auto sub = std::make_shared<RecordingSubscriber>();
  bool resumed = false;
  ASSERT_TRUE(hub.Subscribe(sub, 4, &resumed).ok());
  EXPECT_TRUE(resumed);
  auto events = sub->events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]->revision(), 4);
  EXPECT_FALSE(events[0]->has_snapshot());
  EXPECT_TRUE(events[0]->changes().empty());
}

TEST(WatchHubTest, SnapshotWhenTheRevisionIsUnknownTooOldOrTooNew) {
  WatchHub hub(/*history_limit=*/2);
  hub.Update(WithServers(1, {}));
  for (int r = 2; r <= 5; ++r) hub.Update(WithServers(r, {"s" + std::to_string(r)}));
  // History holds 3->4 and 4->5: 3, 4 and 5 resume; 2 is too old, 9 newer than the hub.
  for (int64_t from : {3, 4, 5}) {
    bool resumed = false;
    ASSERT_TRUE(hub.Subscribe(std::make_shared<RecordingSubscriber>(), from, &resumed).ok());
    EXPECT_TRUE(resumed) << from;
  }
  for (int64_t from : {0, 1, 2, 9}) {
    auto sub = std::make_shared<RecordingSubscriber>();
    bool resumed = true;
    ASSERT_TRUE(hub.Subscribe(sub, from, &resumed).ok());
    EXPECT_FALSE(resumed) << from;
    auto events = sub->events();
    ASSERT_EQ(events.size(), 1u);
    ASSERT_TRUE(events[0]->has_snapshot()) << from;
    EXPECT_EQ(events[0]->revision(), 5);
  }
  // A revision inside a multi-revision step is not a boundary: 6 -> 9 in one step.
  hub.Update(WithServers(9, {"x"}));
  bool resumed = true;
  ASSERT_TRUE(hub.Subscribe(std::make_shared<RecordingSubscriber>(), 7, &resumed).ok());
  EXPECT_FALSE(resumed);
}

TEST(WatchHubTest, ContentChangedWithoutARevisionStepIsNotResumable) {
  WatchHub hub;
  hub.Update(WithServers(3, {"a"}));
  hub.Update(WithServers(4, {"a"}));
  hub.Update(WithServers(4, {"a", "hand-edited"}));
  bool resumed = true;
  ASSERT_TRUE(hub.Subscribe(std::make_shared<RecordingSubscriber>(), 4, &resumed).ok());
  EXPECT_FALSE(resumed);
  hub.Update(WithServers(5, {"b"}));
  ASSERT_TRUE(hub.Subscribe(std::make_shared<RecordingSubscriber>(), 4, &resumed).ok());
  EXPECT_FALSE(resumed);
  ASSERT_TRUE(hub.Subscribe(std::make_shared<RecordingSubscriber>(), 5, &resumed).ok());
  EXPECT_TRUE(resumed);
}

// Watchers that resume from any revision they held end with exactly the configuration of one
// that started from the final snapshot.
TEST(WatchHubTest, ResumedWatchersConvergeOnTheLatestSnapshot) {
  WatchHub hub;
  // The servers at each revision: one added per revision, the oldest dropped every third.
  auto names_at = [](int revision) {
    std::vector<std::string> names;
    for (int i = 2; i <= revision; ++i) {
      names.push_back("s" + std::to_string(i));
      if (i % 3 == 0) names.erase(names.begin());
    }
    return names;
  };
  for (int i = 1; i <= 30; ++i) hub.Update(WithServers(i, names_at(i)));
  auto final_snapshot = hub.snapshot();
  for (int from = 1; from <= 30; ++from) {
    auto held = std::make_shared<RecordingSubscriber>();
    auto view = configwatch::ConfigView::FromSnapshot(WithServers(from, names_at(from)));
    ASSERT_TRUE(hub.Subscribe(held, from).ok());
    for (const auto& event : held->events()) view = view->Apply(*event);
    EXPECT_EQ(view->revision(), 30);
    ASSERT_EQ(view->servers().size(), static_cast<size_t>(final_snapshot->servers_size()));
    for (const auto& s : final_snapshot->servers()) EXPECT_NE(view->FindServer(s.name()), nullptr);
  }
}

// Subscribers joining while updates stream in must each end with exactly the final
// configuration when they apply their events the way configwatch clients do.
TEST(WatchHubTest, ConcurrentSubscribersConvergeOnTheLatestSnapshot) {
  WatchHub hub;
  hub.Update(WithServers(1, {}));
  constexpr int kUpdates = 200;
  std::atomic<bool> done{false};
  std::thread writer([&] {
    std::vector<std::string> names;
    for (int i = 2; i <= kUpdates; ++i) {
      names.push_back("s" + std::to_string(i));
      if (i % 3 == 0) names.erase(names.begin());
      hub.Update(WithServers(i, names));
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    done = true;
  });
  std::vector<std::shared_ptr<RecordingSubscriber>> subs;
  while (!done && subs.size() < 100) {
    auto sub = std::make_shared<RecordingSubscriber>(100000);
    ASSERT_TRUE(hub.Subscribe(sub).ok());
    subs.push_back(sub);
    std::this_thread::sleep_for(std::chrono::microseconds(300));
  }
  writer.join();
  auto final_snapshot = hub.snapshot();
  ASSERT_FALSE(subs.empty());
  for (const auto& sub : subs) {
    auto events = sub->events();
    ASSERT_FALSE(events.empty());
    ASSERT_TRUE(events[0]->has_snapshot());
    auto view = configwatch::ConfigView::FromSnapshot(events[0]->snapshot());
    for (size_t i = 1; i < events.size(); ++i) {
      ASSERT_FALSE(events[i]->has_snapshot());
      ASSERT_GT(events[i]->revision(), view->revision());
      view = view->Apply(*events[i]);
    }
    EXPECT_EQ(view->revision(), kUpdates);
    ASSERT_EQ(view->servers().size(), static_cast<size_t>(final_snapshot->servers_size()));
    for (const auto& s : final_snapshot->servers()) EXPECT_NE(view->FindServer(s.name()), nullptr);
  }
}

}  // namespace
}  // namespace switchboard::registry
