#include "services/registry/src/snapshot_diff.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace switchboard::registry {
namespace {

using v1::Change;

v1::Server Stdio(const std::string& name, const std::string& command) {
  v1::Server s;
  s.set_name(name);
  s.set_type("STDIO");
  s.set_command(command);
  return s;
}

v1::Snapshot Base() {
  v1::Snapshot s;
  s.set_revision(4);
  *s.add_servers() = Stdio("a", "node");
  *s.add_servers() = Stdio("b", "python");
  (*s.mutable_servers(0)->mutable_env())["K1"] = "v1";
  (*s.mutable_servers(0)->mutable_env())["K2"] = "v2";
  auto* ns = s.add_namespaces();
  ns->set_name("n");
  ns->add_servers()->set_server("a");
  ns->add_servers()->set_server("b");
  auto* ep = s.add_endpoints();
  ep->set_name("e");
  ep->set_namespace_("n");
  auto* user = s.add_users();
  user->set_email("dev@example.com");
  auto* key = s.add_api_keys();
  key->set_id("k1");
  key->set_user_email("dev@example.com");
  key->set_key_sha256(std::string(64, 'a'));
  return s;
}

// "UPSERT SERVER a" / "DELETE ENDPOINT e": the shape of a change list, for comparisons.
std::vector<std::string> Describe(const std::vector<Change>& changes) {
  std::vector<std::string> out;
  for (const Change& c : changes) {
    out.push_back(Change::Op_Name(c.op()) + " " + Change::Kind_Name(c.kind()) + " " + c.name());
  }
  return out;
}

TEST(DiffSnapshotsTest, EqualSnapshotsGiveNoChanges) {
  EXPECT_TRUE(DiffSnapshots(Base(), Base()).empty());
  EXPECT_TRUE(DiffSnapshots(v1::Snapshot(), v1::Snapshot()).empty());
}

TEST(DiffSnapshotsTest, MapOrderAndListOrderOfObjectsDoNotMatter) {
  v1::Snapshot before = Base();
  v1::Snapshot after;
  after.set_revision(4);
  // Same objects, servers listed in the other order and env built in the other order.
  *after.add_servers() = before.servers(1);
  v1::Server a = Stdio("a", "node");
  (*a.mutable_env())["K2"] = "v2";
  (*a.mutable_env())["K1"] = "v1";
  *after.add_servers() = a;
  *after.mutable_namespaces() = before.namespaces();
  *after.mutable_endpoints() = before.endpoints();
  *after.mutable_users() = before.users();
  *after.mutable_api_keys() = before.api_keys();
  EXPECT_TRUE(DiffSnapshots(before, after).empty());
}

TEST(DiffSnapshotsTest, ReportsUpsertsThenDeletesInDependencyOrder) {
  v1::Snapshot before = Base();
  v1::Snapshot after = Base();
  after.set_revision(5);
  (*after.mutable_servers(0)->mutable_env())["K1"] = "changed";  // a changed
  *after.add_servers() = Stdio("c", "deno");                     // c added
  after.mutable_namespaces(0)->mutable_servers()->RemoveLast();  // n loses b
  after.mutable_servers()->DeleteSubrange(1, 1);                 // b deleted
  after.clear_endpoints();                                       // e deleted
  after.clear_api_keys();                                        // k1 deleted
  auto* user = after.add_users();
  user->set_email("new@example.com");  // user added

  std::vector<Change> changes = DiffSnapshots(before, after);
  EXPECT_EQ(Describe(changes),
            (std::vector<std::string>{"UPSERT SERVER a", "UPSERT SERVER c", "UPSERT NAMESPACE n",
                                      "UPSERT USER new@example.com", "DELETE API_KEY k1",
                                      "DELETE ENDPOINT e", "DELETE SERVER b"}));
  EXPECT_EQ(changes[0].server().env().at("K1"), "changed");
  EXPECT_EQ(changes[2].namespace_().servers_size(), 1);
  EXPECT_EQ(changes[3].user().email(), "new@example.com");
  // A delete carries only kind and key.
  EXPECT_FALSE(changes[6].has_server());
}

TEST(DiffSnapshotsTest, ApiKeysAreMatchedById) {
  v1::Snapshot before = Base();
  v1::Snapshot after = Base();
  after.mutable_api_keys(0)->set_name("renamed");
  std::vector<Change> changes = DiffSnapshots(before, after);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].kind(), Change::API_KEY);
  EXPECT_EQ(changes[0].name(), "k1");
  EXPECT_EQ(changes[0].api_key().name(), "renamed");
}

TEST(DiffSnapshotsTest, EverythingIsNewAgainstAnEmptySnapshot) {
  std::vector<Change> changes = DiffSnapshots(v1::Snapshot(), Base());
  EXPECT_EQ(changes.size(), 6u);
  for (const Change& c : changes) EXPECT_EQ(c.op(), Change::UPSERT);
}

// The plan's writes, or the error's message.
std::vector<Change> Plan(const v1::Snapshot& current, const v1::ApplyRequest& request) {
  absl::StatusOr<ApplyPlan> plan = PlanApply(current, request);
  EXPECT_TRUE(plan.ok()) << plan.status();
  return plan.ok() ? plan->changes : std::vector<Change>{};
}

// "ADDED SERVER z": the shape of a diff, for comparisons.
std::vector<std::string> DescribeDiff(const std::vector<v1::ObjectDiff>& diff) {
  std::vector<std::string> out;
  for (const v1::ObjectDiff& d : diff) {
    out.push_back(v1::ObjectDiff::Action_Name(d.action()) + " " + Change::Kind_Name(d.kind()) +
                  " " + d.name());
  }
  return out;
}

TEST(PlanApplyTest, UpsertsOnlyNewOrChangedObjectsInRequestOrder) {
  v1::Snapshot current = Base();
  v1::ApplyRequest request;
  *request.add_servers() = Stdio("z", "new");   // new
  *request.add_servers() = current.servers(1);  // unchanged
  v1::Server a = current.servers(0);
  a.set_description("now described");  // changed
  *request.add_servers() = a;
  auto* user = request.add_users();
  *user = current.users(0);
  user->set_is_admin(true);  // changed

  absl::StatusOr<ApplyPlan> plan = PlanApply(current, request);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(Describe(plan->changes), (std::vector<std::string>{"UPSERT SERVER z", "UPSERT SERVER a",
                                                               "UPSERT USER dev@example.com"}));
  EXPECT_EQ(plan->changes[1].server().description(), "now described");
  EXPECT_TRUE(plan->changes[2].user().is_admin());
  EXPECT_EQ(DescribeDiff(plan->diff),
            (std::vector<std::string>{"ADDED SERVER z", "UNCHANGED SERVER b", "CHANGED SERVER a",
                                      "CHANGED USER dev@example.com"}));
  ASSERT_EQ(plan->diff[2].fields_size(), 1);
  EXPECT_EQ(plan->diff[2].fields(0).field(), "description");
  EXPECT_EQ(plan->diff[2].fields(0).before(), "\"\"");
  EXPECT_EQ(plan->diff[2].fields(0).after(), "\"now described\"");
  EXPECT_FALSE(plan->diff[2].fields(0).secret());
}

TEST(PlanApplyTest, LeavesObjectsOutsideTheRequestAlone) {
  v1::ApplyRequest request;
  *request.add_servers() = Stdio("a", "node");  // same name, env dropped: a change
  EXPECT_EQ(Describe(Plan(Base(), request)), std::vector<std::string>{"UPSERT SERVER a"});
}

TEST(PlanApplyTest, NamespaceMemberOrderAndFlagsCount) {
  v1::Snapshot current = Base();
  v1::ApplyRequest request;
  v1::Namespace reordered = current.namespaces(0);
  reordered.mutable_servers()->SwapElements(0, 1);
  *request.add_namespaces() = reordered;
  EXPECT_EQ(Plan(current, request).size(), 1u);

  v1::Namespace disabled = current.namespaces(0);
  disabled.mutable_servers(1)->set_disabled(true);
  request.clear_namespaces();
  *request.add_namespaces() = disabled;
  EXPECT_EQ(Plan(current, request).size(), 1u);

  request.clear_namespaces();
  *request.add_namespaces() = current.namespaces(0);
  EXPECT_TRUE(Plan(current, request).empty());
}

TEST(PlanApplyTest, CreateOnlyLeavesExistingObjectsAsTheyAre) {
  v1::ApplyRequest request;
  request.set_mode(v1::ApplyRequest::CREATE_ONLY);
  *request.add_servers() = Stdio("a", "changed-command");
  *request.add_servers() = Stdio("c", "deno");
  absl::StatusOr<ApplyPlan> plan = PlanApply(Base(), request);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(Describe(plan->changes), std::vector<std::string>{"UPSERT SERVER c"});
  EXPECT_EQ(DescribeDiff(plan->diff),
            (std::vector<std::string>{"UNCHANGED SERVER a", "ADDED SERVER c"}));
}

TEST(PlanApplyTest, PruneDeletesWhatTheRequestDoesNotNameInDependencyOrderButNoApiKeys) {
  v1::Snapshot current = Base();
  v1::ToolOverride* o = current.add_tool_overrides();
  o->set_namespace_("n");
  o->set_server("a");
  o->set_tool("echo");
  v1::ApplyRequest request;
  request.set_mode(v1::ApplyRequest::PRUNE);
  *request.add_servers() = current.servers(0);
  absl::StatusOr<ApplyPlan> plan = PlanApply(current, request);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(Describe(plan->changes),
            (std::vector<std::string>{"DELETE TOOL_OVERRIDE n/a/echo", "DELETE USER dev@example.com",
                                      "DELETE ENDPOINT e", "DELETE NAMESPACE n",
                                      "DELETE SERVER b"}));
  EXPECT_EQ(DescribeDiff(plan->diff),
            (std::vector<std::string>{"UNCHANGED SERVER a", "REMOVED TOOL_OVERRIDE n/a/echo",
                                      "REMOVED USER dev@example.com", "REMOVED ENDPOINT e",
                                      "REMOVED NAMESPACE n", "REMOVED SERVER b"}));
}

TEST(PlanApplyTest, MaskedSecretsKeepTheStoredValueAndDiffsMaskSecrets) {
  v1::Snapshot current = Base();
  v1::ApplyRequest request;
  v1::Server a = current.servers(0);
  (*a.mutable_env())["K1"] = "***";        // keep v1
  (*a.mutable_env())["K2"] = "rotated";    // changed secret
  (*a.mutable_env())["K3"] = "new-value";  // new secret
  *request.add_servers() = a;
  absl::StatusOr<ApplyPlan> plan = PlanApply(current, request);
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->changes.size(), 1u);
  EXPECT_EQ(plan->changes[0].server().env().at("K1"), "v1");
  ASSERT_EQ(plan->diff[0].fields_size(), 2);
  EXPECT_EQ(plan->diff[0].fields(0).field(), "env.K2");
  EXPECT_EQ(plan->diff[0].fields(0).before(), "\"***\"");
  EXPECT_EQ(plan->diff[0].fields(0).after(), "\"***\"");
  EXPECT_TRUE(plan->diff[0].fields(0).secret());
  EXPECT_EQ(plan->diff[0].fields(1).field(), "env.K3");
  EXPECT_EQ(plan->diff[0].fields(1).before(), "");
  EXPECT_EQ(plan->diff[0].fields(1).after(), "\"***\"");

  // An unchanged server sent back with masked secrets is unchanged.
  v1::Server masked = current.servers(0);
  for (auto& [k, v] : *masked.mutable_env()) v = "***";
  request.clear_servers();
  *request.add_servers() = masked;
  EXPECT_TRUE(Plan(current, request).empty());

  // "***" with nothing stored is an error naming the field.
  v1::Server fresh = Stdio("fresh", "x");
  (*fresh.mutable_env())["TOKEN"] = "***";
  request.clear_servers();
  *request.add_servers() = fresh;
  absl::StatusOr<ApplyPlan> bad = PlanApply(current, request);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("servers[0].env.TOKEN"), std::string::npos)
      << bad.status();
}

TEST(SortSnapshotTest, SortsEveryListByKey) {
  v1::Snapshot s;
  *s.add_servers() = Stdio("b", "x");
  *s.add_servers() = Stdio("a", "x");
  s.add_users()->set_email("z@x.y");
  s.add_users()->set_email("a@x.y");
  s.add_api_keys()->set_id("2");
  s.add_api_keys()->set_id("1");
  SortSnapshot(&s);
  EXPECT_EQ(s.servers(0).name(), "a");
  EXPECT_EQ(s.users(0).email(), "a@x.y");
  EXPECT_EQ(s.api_keys(0).id(), "1");
}

TEST(SnapshotDiffTest, ToolOverridesAreKeyedByNamespaceServerAndTool) {
  v1::Snapshot before = Base();
  v1::ToolOverride* o = before.add_tool_overrides();
  o->set_namespace_("n");
  o->set_server("a");
  o->set_tool("echo");
  v1::Snapshot after = before;
  after.mutable_tool_overrides(0)->set_disabled(true);
  v1::ToolOverride* added = after.add_tool_overrides();
  *added = before.tool_overrides(0);
  added->set_tool("sum");
  std::vector<Change> changes = DiffSnapshots(before, after);
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[0].kind(), Change::TOOL_OVERRIDE);
  EXPECT_EQ(changes[0].name(), "n/a/echo");
  EXPECT_TRUE(changes[0].tool_override().disabled());
  EXPECT_EQ(changes[1].name(), "n/a/sum");

  // A namespace gone with its override: the override's delete comes before the namespace's.
  v1::Snapshot emptied = after;
  emptied.clear_tool_overrides();
  emptied.clear_endpoints();
  emptied.clear_namespaces();
  changes = DiffSnapshots(after, emptied);
  ASSERT_EQ(changes.size(), 4u);
  EXPECT_EQ(changes[0].kind(), Change::TOOL_OVERRIDE);
  EXPECT_EQ(changes[0].op(), Change::DELETE);
  EXPECT_EQ(changes[3].kind(), Change::NAMESPACE);
}

}  // namespace
}  // namespace switchboard::registry
