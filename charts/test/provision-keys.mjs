// Checks the switchboard.yaml in a rendered provisioning ConfigMap against the keys the
// declarative parser accepts (the CheckKeys lists of libs/config/src/declarative.cc).
//   node provision-keys.mjs MANIFESTS.yaml declarative.cc
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const YAML = await import(pathToFileURL(join(process.env.SB_NPM_DIR, "node_modules/yaml/dist/index.js")));
const [manifests, parser] = process.argv.slice(2);
const cm = YAML.parseAllDocuments(readFileSync(manifests, "utf8"))
  .map((d) => d.toJS())
  .find((o) => o?.kind === "ConfigMap" && o.data?.["switchboard.yaml"]);
if (!cm) { console.error("no ConfigMap with switchboard.yaml"); process.exit(1); }

// CheckKeys(node, path, {"a", "b", ...}) in source order: top level, server, namespace member,
// namespace, endpoint, user.
const lists = [...readFileSync(parser, "utf8").matchAll(/CheckKeys\([^{]*\{([^}]*)\}/g)]
  .map((m) => new Set([...m[1].matchAll(/"([^"]+)"/g)].map((k) => k[1])));
const byFirst = (key) => lists.find((l) => l.has(key));
const allowed = {
  top: byFirst("mcpServers"), server: byFirst("bearerToken"), namespace: byFirst("prefix"),
  member: lists.find((l) => l.has("active")), endpoint: byFirst("enableOauth"), user: byFirst("passwordFrom"),
};
for (const [k, v] of Object.entries(allowed)) if (!v) { console.error(`no key list for ${k} in ${parser}`); process.exit(1); }

let doc = YAML.parse(cm.data["switchboard.yaml"]);
if (doc.provision) doc = doc.provision;
const bad = [];
const check = (obj, set, path) => Object.keys(obj ?? {}).forEach((k) => set.has(k) || bad.push(`${path}.${k}`));
check(doc, allowed.top, "switchboard.yaml");
(doc.servers ?? []).forEach((s, i) => check(s, allowed.server, `servers[${i}]`));
(doc.namespaces ?? []).forEach((n, i) => {
  check(n, allowed.namespace, `namespaces[${i}]`);
  (n.servers ?? []).forEach((m, j) => typeof m === "object" && check(m, allowed.member, `namespaces[${i}].servers[${j}]`));
});
(doc.endpoints ?? []).forEach((e, i) => check(e, allowed.endpoint, `endpoints[${i}]`));
(doc.users ?? []).forEach((u, i) => check(u, allowed.user, `users[${i}]`));
(doc.servers ?? []).forEach((s, i) => {
  if ((s.type ?? "STDIO") === "STDIO" ? !s.command : !/^https?:\/\//.test(s.url ?? "")) bad.push(`servers[${i}]: no command/url`);
});
if (bad.length) { console.error(`keys sbctl would reject: ${bad.join(", ")}`); process.exit(1); }
console.log(`ok: ${doc.servers?.length ?? 0} servers, ${doc.namespaces?.length ?? 0} namespaces, ${doc.endpoints?.length ?? 0} endpoints, ${doc.users?.length ?? 0} users`);
