// Validates rendered chart manifests and asserts the chart's decisions.
//   node check.mjs MANIFESTS.yaml [--has Kind/name]... [--lacks Kind/name]... [--no-kind Kind]...
// Every object is validated against the Kubernetes OpenAPI schemas shipped in kubernetes-models
// (objects of other API groups get a structural check). Always asserted: restricted security
// settings on every pod, a NetworkPolicy per component, native gRPC probes on the gRPC
// services and HTTP probes on the edge.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const npm = process.env.SB_NPM_DIR;
if (!npm) throw new Error("SB_NPM_DIR must name tools/npm");
const YAML = await import(pathToFileURL(join(npm, "node_modules/yaml/dist/index.js")));

const [file, ...rest] = process.argv.slice(2);
const docs = YAML.parseAllDocuments(readFileSync(file, "utf8"))
  .map((d) => {
    if (d.errors.length) throw new Error(`${file}: ${d.errors[0].message}`);
    return d.toJS();
  })
  .filter((o) => o && typeof o === "object");

const failures = [];
const fail = (what) => failures.push(what);
const id = (o) => `${o.kind}/${o.metadata?.name}`;

// Schema validation.
const modules = new Map();
// kubernetes-models has a directory per apiVersion ("v1" is the core group, "apps/v1", ...).
async function modelFor(apiVersion) {
  if (!modules.has(apiVersion)) {
    try {
      modules.set(apiVersion, await import(pathToFileURL(join(npm, "node_modules/kubernetes-models", apiVersion, "index.js"))));
    } catch {
      modules.set(apiVersion, null);
    }
  }
  return modules.get(apiVersion);
}
const structural = {
  "gateway.networking.k8s.io/v1/HTTPRoute": (o) =>
    Array.isArray(o.spec?.parentRefs) && o.spec.parentRefs.length > 0 &&
    Array.isArray(o.spec?.rules) && o.spec.rules.every((r) => Array.isArray(r.backendRefs)),
  "monitoring.coreos.com/v1/ServiceMonitor": (o) =>
    o.spec?.selector?.matchLabels && Array.isArray(o.spec?.endpoints) && o.spec.endpoints.length > 0,
};
let validated = 0, structurallyChecked = 0;
const names = new Set();
for (const o of docs) {
  if (!o.apiVersion || !o.kind || !o.metadata?.name) { fail(`object without apiVersion/kind/metadata.name: ${JSON.stringify(o).slice(0, 120)}`); continue; }
  if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(o.metadata.name) || o.metadata.name.length > 253) fail(`${id(o)}: invalid name`);
  if (names.has(id(o))) fail(`${id(o)}: rendered twice`);
  names.add(id(o));
  const mod = await modelFor(o.apiVersion);
  const Model = mod?.[o.kind];
  if (Model) {
    try { new Model(o).validate(); validated++; } catch (e) { fail(`${id(o)}: ${e.message}`); }
  } else {
    const check = structural[`${o.apiVersion}/${o.kind}`];
    if (!check) fail(`${id(o)}: no schema for ${o.apiVersion} ${o.kind}`);
    else if (!check(o)) fail(`${id(o)}: fails the structural check`);
    else structurallyChecked++;
  }
}

// Restricted security settings on every pod.
const podSpecs = [];
for (const o of docs) {
  const spec = o.kind === "CronJob" ? o.spec?.jobTemplate?.spec?.template?.spec : o.spec?.template?.spec;
  if (["Deployment", "StatefulSet", "Job", "DaemonSet", "CronJob"].includes(o.kind)) podSpecs.push([o, spec]);
}
for (const [o, spec] of podSpecs) {
  const psc = spec.securityContext ?? {};
  if (psc.runAsNonRoot !== true) fail(`${id(o)}: pod runAsNonRoot is not true`);
  if (psc.seccompProfile?.type !== "RuntimeDefault") fail(`${id(o)}: pod seccompProfile is not RuntimeDefault`);
  const isProvision = o.kind === "Job" && o.metadata.labels?.["app.kubernetes.io/component"] === "provision";
  if (spec.automountServiceAccountToken !== false && !isProvision) fail(`${id(o)}: automountServiceAccountToken is not false`);
  const tmp = (spec.volumes ?? []).filter((v) => v.emptyDir).map((v) => v.name);
  for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
    const sc = c.securityContext ?? {};
    if (sc.readOnlyRootFilesystem !== true) fail(`${id(o)}/${c.name}: readOnlyRootFilesystem is not true`);
    if (sc.allowPrivilegeEscalation !== false) fail(`${id(o)}/${c.name}: allowPrivilegeEscalation is not false`);
    if (!(sc.capabilities?.drop ?? []).includes("ALL")) fail(`${id(o)}/${c.name}: capabilities do not drop ALL`);
    if (!(c.volumeMounts ?? []).some((m) => m.mountPath === "/tmp" && tmp.includes(m.name))) fail(`${id(o)}/${c.name}: no emptyDir on /tmp`);
  }
}

// A NetworkPolicy for every component that runs a pod, allowing exactly the designed callers.
const component = (o) => o.metadata.labels?.["app.kubernetes.io/component"];
const callers = {
  edge: null, router: ["edge"], auth: ["edge"], runner: ["router"],
  registry: ["auth", "edge", "provision", "router", "runner"], postgres: ["registry"], redis: ["auth", "edge", "registry"],
};
const policies = new Map(docs.filter((o) => o.kind === "NetworkPolicy").map((o) => [o.spec.podSelector.matchLabels["app.kubernetes.io/component"], o]));
for (const [o] of podSpecs) {
  const comp = component(o);
  if (comp === "provision") continue;
  const np = policies.get(comp);
  if (!np) { fail(`${id(o)}: no NetworkPolicy for component ${comp}`); continue; }
  if (!(comp in callers)) continue;
  const from = np.spec.ingress[0].from;
  if (callers[comp] === null) { if (from) fail(`NetworkPolicy ${comp}: should admit any client`); continue; }
  const got = (from ?? []).map((p) => p.podSelector?.matchLabels?.["app.kubernetes.io/component"]).filter(Boolean).sort();
  if (JSON.stringify(got) !== JSON.stringify(callers[comp])) fail(`NetworkPolicy ${comp}: callers ${got} instead of ${callers[comp]}`);
}

// Probes: native gRPC for the gRPC services, HTTP /healthz and /readyz for the edge.
for (const o of docs.filter((d) => d.kind === "Deployment")) {
  const comp = component(o);
  const c = o.spec.template.spec.containers[0];
  if (["router", "runner", "registry", "auth"].includes(comp)) {
    if (!c.livenessProbe?.grpc || !c.readinessProbe?.grpc) fail(`${id(o)}: gRPC probes missing`);
  } else if (comp === "edge") {
    if (c.livenessProbe?.httpGet?.path !== "/healthz" || c.readinessProbe?.httpGet?.path !== "/readyz") fail(`${id(o)}: edge HTTP probes missing`);
  }
  if (!o.spec.template.metadata.annotations?.["checksum/config"]) {
    if (["edge", "router", "runner", "registry", "auth"].includes(comp)) fail(`${id(o)}: no checksum/config annotation`);
  }
}

// Expectations from the command line.
for (let i = 0; i < rest.length; i += 2) {
  const [flag, arg] = [rest[i], rest[i + 1]];
  if (flag === "--has" && !names.has(arg)) fail(`expected ${arg}`);
  else if (flag === "--lacks" && names.has(arg)) fail(`did not expect ${arg}`);
  else if (flag === "--no-kind" && docs.some((o) => o.kind === arg)) fail(`did not expect any ${arg}`);
  else if (!["--has", "--lacks", "--no-kind"].includes(flag)) fail(`unknown option ${flag}`);
}

// A Grafana dashboard ConfigMap holds dashboards that parse, and every panel queries metrics.
for (const o of docs) {
  if (o.kind !== "ConfigMap" || o.metadata.labels?.grafana_dashboard === undefined) continue;
  for (const [key, text] of Object.entries(o.data ?? {})) {
    let dashboard;
    try { dashboard = JSON.parse(text); } catch (e) { fail(`${id(o)}: ${key} is not JSON: ${e.message}`); continue; }
    const panels = (dashboard.panels ?? []).filter((p) => p.type !== "row");
    if (!dashboard.uid || panels.length === 0) fail(`${id(o)}: ${key} has no uid or no panels`);
    for (const p of panels) {
      if (!p.targets?.length || !p.targets.every((t) => /\bsb_[a-z_]+/.test(t.expr ?? ""))) {
        fail(`${id(o)}: panel "${p.title}" queries no Switchboard metric`);
      }
    }
  }
}

if (failures.length) {
  for (const f of failures) console.error(`FAIL ${file}: ${f}`);
  process.exit(1);
}
console.log(`ok ${file}: ${docs.length} objects, ${validated} schema-validated, ${structurallyChecked} structurally checked`);
