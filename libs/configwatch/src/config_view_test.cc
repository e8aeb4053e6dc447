#include "switchboard/configwatch/config_view.h"

#include <gtest/gtest.h>

namespace switchboard::configwatch {
namespace {

using registry::v1::Change;

registry::v1::Snapshot MakeSnapshot() {
  registry::v1::Snapshot s;
  s.set_revision(3);
  auto* server = s.add_servers();
  server->set_name("everything");
  server->set_type("STDIO");
  auto* ep = s.add_endpoints();
  ep->set_name("demo");
  ep->set_namespace_("demo");
  auto* key = s.add_api_keys();
  key->set_id("k1");
  key->set_key_sha256("abc");
  key->set_user_email("a@b.c");
  return s;
}

TEST(ConfigViewTest, IndexesSnapshot) {
  auto view = ConfigView::FromSnapshot(MakeSnapshot());
  EXPECT_EQ(view->revision(), 3);
  ASSERT_NE(view->FindServer("everything"), nullptr);
  EXPECT_EQ(view->FindServer("nope"), nullptr);
  ASSERT_NE(view->FindApiKeyBySha256("abc"), nullptr);
  EXPECT_EQ(view->FindApiKeyBySha256("abc")->user_email(), "a@b.c");
}

TEST(ConfigViewTest, AppliesChangesWithoutTouchingTheOldView) {
  auto v1 = ConfigView::FromSnapshot(MakeSnapshot());
  registry::v1::WatchEvent event;
  event.set_revision(4);
  auto* del = event.add_changes();
  del->set_op(Change::DELETE);
  del->set_kind(Change::API_KEY);
  del->set_name("k1");
  auto* up = event.add_changes();
  up->set_op(Change::UPSERT);
  up->set_kind(Change::SERVER);
  up->mutable_server()->set_name("other");
  auto v2 = v1->Apply(event);
  EXPECT_EQ(v2->revision(), 4);
  EXPECT_EQ(v2->FindApiKeyBySha256("abc"), nullptr);
  EXPECT_NE(v2->FindServer("other"), nullptr);
  EXPECT_NE(v1->FindApiKeyBySha256("abc"), nullptr);
  EXPECT_EQ(v1->FindServer("other"), nullptr);
}

TEST(ConfigViewTest, ReplacedKeyHashIsReindexed) {
  auto v1 = ConfigView::FromSnapshot(MakeSnapshot());
  registry::v1::WatchEvent event;
  event.set_revision(5);
  auto* up = event.add_changes();
  up->set_op(Change::UPSERT);
  up->set_kind(Change::API_KEY);
  up->mutable_api_key()->set_id("k1");
  up->mutable_api_key()->set_key_sha256("def");
  auto v2 = v1->Apply(event);
  EXPECT_EQ(v2->FindApiKeyBySha256("abc"), nullptr);
  EXPECT_NE(v2->FindApiKeyBySha256("def"), nullptr);
}

}  // namespace
}  // namespace switchboard::configwatch
