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

// Adds a tool override change to `event`.
Change* AddChange(registry::v1::WatchEvent* event, Change::Op op, std::string name) {
  Change* c = event->add_changes();
  c->set_op(op);
  c->set_kind(Change::TOOL_OVERRIDE);
  c->set_name(std::move(name));
  return c;
}

registry::v1::ToolOverride MakeOverride(std::string tool, std::string name, bool disabled) {
  registry::v1::ToolOverride o;
  o.set_namespace_("team");
  o.set_server("alpha");
  o.set_tool(std::move(tool));
  o.set_name(std::move(name));
  o.set_disabled(disabled);
  return o;
}

TEST(ConfigViewTest, IndexesToolOverridesByToolAndByNewName) {
  registry::v1::Snapshot s = MakeSnapshot();
  *s.add_tool_overrides() = MakeOverride("echo", "say", false);
  *s.add_tool_overrides() = MakeOverride("add", "", true);
  auto view = ConfigView::FromSnapshot(s);
  ASSERT_NE(view->FindToolOverride("team", "alpha", "echo"), nullptr);
  EXPECT_EQ(view->FindToolOverride("team", "alpha", "echo")->name(), "say");
  EXPECT_TRUE(view->FindToolOverride("team", "alpha", "add")->disabled());
  EXPECT_EQ(view->FindToolOverride("other", "alpha", "echo"), nullptr);
  ASSERT_NE(view->FindToolOverrideByName("team", "say"), nullptr);
  EXPECT_EQ(view->FindToolOverrideByName("team", "say")->tool(), "echo");
  EXPECT_EQ(view->FindToolOverrideByName("other", "say"), nullptr);
  EXPECT_EQ(view->tool_overrides().size(), 2u);
}

TEST(ConfigViewTest, ToolOverrideChangesReindexNames) {
  registry::v1::Snapshot s = MakeSnapshot();
  *s.add_tool_overrides() = MakeOverride("echo", "say", false);
  auto v1 = ConfigView::FromSnapshot(s);
  registry::v1::WatchEvent rename;
  rename.set_revision(4);
  *AddChange(&rename, Change::UPSERT, "team/alpha/echo")->mutable_tool_override() =
      MakeOverride("echo", "shout", false);
  auto v2 = v1->Apply(rename);
  EXPECT_EQ(v2->FindToolOverrideByName("team", "say"), nullptr);
  ASSERT_NE(v2->FindToolOverrideByName("team", "shout"), nullptr);
  EXPECT_NE(v1->FindToolOverrideByName("team", "say"), nullptr);

  registry::v1::WatchEvent del;
  del.set_revision(5);
  AddChange(&del, Change::DELETE, ConfigView::ToolOverrideKey("team", "alpha", "echo"));
  auto v3 = v2->Apply(del);
  EXPECT_EQ(v3->FindToolOverride("team", "alpha", "echo"), nullptr);
  EXPECT_EQ(v3->FindToolOverrideByName("team", "shout"), nullptr);
  EXPECT_TRUE(v3->tool_overrides().empty());
}

}  // namespace
}  // namespace switchboard::configwatch
