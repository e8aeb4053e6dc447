// Lint of deploy/docker/Dockerfile and deploy/compose.yaml without a container engine.
//   node lint-container-files.mjs Dockerfile compose.yaml
// Dockerfile: known instructions, pinned base images, named stages for every component, each
// component stage non-root (uid 10001) with an exec-form ENTRYPOINT on its config file,
// apt-get hygiene (update+install in one RUN, --no-install-recommends, lists removed), COPY
// sources that exist, COPY --from of a defined stage. compose.yaml: valid YAML, services and
// dependencies that exist, build targets that exist in the Dockerfile, and every
// SWITCHBOARD_<SERVICE>_<FIELD> naming a field of that service's config file.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const YAML = await import(pathToFileURL(join(process.env.SB_NPM_DIR, "node_modules/yaml/dist/index.js")));
const [dockerfile, composeFile] = process.argv.slice(2).map((p) => resolve(p));
const repo = resolve(dirname(dockerfile), "../..");
const problems = [];
const problem = (where, what) => problems.push(`${where}: ${what}`);

// ---- Dockerfile
const text = readFileSync(dockerfile, "utf8");
const instructions = [];
{
  let buf = "", start = 0;
  text.split("\n").forEach((line, i) => {
    if (!buf && (/^\s*#/.test(line) || !line.trim())) return;
    if (!buf) start = i + 1;
    if (/^\s*#/.test(line)) return; // comment inside a continued instruction
    buf += (buf ? " " : "") + line.replace(/\\\s*$/, "").trim();
    if (!/\\\s*$/.test(line)) { instructions.push({ line: start, text: buf }); buf = ""; }
  });
  if (buf) problem("Dockerfile", "ends inside a continued line");
}
const known = new Set(["FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME", "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL"]);
const stages = [];
const args = {};
for (const ins of instructions) {
  const [op, ...restWords] = ins.text.split(/\s+/);
  const rest = restWords.join(" ");
  const where = `Dockerfile:${ins.line}`;
  if (!known.has(op.toUpperCase())) { problem(where, `unknown instruction ${op}`); continue; }
  if (op !== op.toUpperCase()) problem(where, `write ${op.toUpperCase()} in upper case`);
  const OP = op.toUpperCase();
  if (OP === "ARG" && !stages.length) { const [k, v] = rest.split("="); args[k] = v; continue; }
  if (OP === "FROM") {
    const m = rest.match(/^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i);
    if (!m) { problem(where, "cannot parse FROM"); continue; }
    const image = m[1].replace(/\$\{(\w+)\}/g, (_, k) => args[k] ?? "");
    const isStage = stages.some((s) => s.name === image);
    if (!isStage && !/:[\w][\w.-]*$|@sha256:/.test(image)) problem(where, `base image ${image} has no tag`);
    if (!isStage && /:latest$/.test(image)) problem(where, `base image ${image} uses :latest`);
    stages.push({ name: m[2], line: ins.line, base: image, ops: [] });
    continue;
  }
  if (!stages.length) { problem(where, `${OP} before FROM`); continue; }
  stages.at(-1).ops.push({ op: OP, rest, where });
  if (OP === "ADD" && /https?:\/\//.test(rest)) problem(where, "ADD of a URL: use RUN curl with a checksum");
  if (OP === "RUN" && /apt-get install/.test(rest)) {
    if (!/apt-get update/.test(rest)) problem(where, "apt-get install without apt-get update in the same RUN");
    if (!/--no-install-recommends/.test(rest)) problem(where, "apt-get install without --no-install-recommends");
    if (!/-y\b|--yes/.test(rest)) problem(where, "apt-get install without -y");
    if (!/rm -rf \/var\/lib\/apt\/lists/.test(rest)) problem(where, "apt lists not removed");
  }
  if (OP === "RUN" && /\bsudo\b/.test(rest)) problem(where, "sudo in RUN");
  if (OP === "WORKDIR" && !rest.startsWith("/")) problem(where, "WORKDIR must be absolute");
  if (OP === "COPY") {
    const words = rest.split(/\s+/);
    const from = words.find((w) => w.startsWith("--from="));
    const srcs = words.filter((w) => !w.startsWith("--")).slice(0, -1);
    if (from) {
      const name = from.slice(7);
      if (!stages.slice(0, -1).some((s) => s.name === name)) problem(where, `COPY --from=${name}: no earlier stage of that name`);
    } else {
      for (const s of srcs) if (!existsSync(join(repo, s))) problem(where, `COPY source ${s} does not exist in the build context`);
    }
  }
}
const names = new Set(stages.map((s) => s.name).filter(Boolean));
if (names.size !== stages.filter((s) => s.name).length) problem("Dockerfile", "two stages share a name");
const opsOf = (stage) => {
  const chain = [];
  for (let s = stage; s; s = stages.find((t) => t.name === s.base)) chain.unshift(...s.ops);
  return chain;
};
for (const svc of ["edge", "router", "runner", "registry", "auth", "sbctl"]) {
  const stage = stages.find((s) => s.name === svc);
  if (!stage) { problem("Dockerfile", `no stage named ${svc}`); continue; }
  const ops = opsOf(stage);
  const user = ops.filter((o) => o.op === "USER").at(-1);
  if (!user || !/^10001(:10001)?$/.test(user.rest)) problem(`Dockerfile stage ${svc}`, "does not run as USER 10001");
  const ep = ops.filter((o) => o.op === "ENTRYPOINT").at(-1);
  let argv = null;
  try { argv = JSON.parse(ep?.rest ?? "null"); } catch { /* reported below */ }
  if (!Array.isArray(argv)) { problem(`Dockerfile stage ${svc}`, "ENTRYPOINT missing or not in exec (JSON) form"); continue; }
  const bin = svc === "sbctl" ? "/usr/local/bin/sbctl" : `/usr/local/bin/sb-${svc}`;
  if (argv[0] !== bin) problem(`Dockerfile stage ${svc}`, `ENTRYPOINT runs ${argv[0]}, not ${bin}`);
  if (svc !== "sbctl") {
    const cfg = `/etc/switchboard/${svc}.yaml`;
    if (JSON.stringify(argv.slice(1)) !== JSON.stringify(["--config", cfg])) problem(`Dockerfile stage ${svc}`, `ENTRYPOINT does not pass --config ${cfg}`);
    if (!ops.some((o) => o.op === "COPY" && o.rest.endsWith(` ${cfg}`) && o.rest.includes(`services/${svc}/config/${svc}.yaml`))) problem(`Dockerfile stage ${svc}`, `does not copy its default config to ${cfg}`);
  }
}
{
  const runner = opsOf(stages.find((s) => s.name === "runner") ?? { ops: [] }).map((o) => o.rest).join("\n");
  for (const need of ["nodejs", "npm", "python3", "uv"]) if (!new RegExp(`\\b${need}\\b`).test(runner)) problem("Dockerfile stage runner", `does not install ${need}`);
  const build = stages.find((s) => s.name === "build");
  const cmake = build?.ops.map((o) => o.rest).join("\n") ?? "";
  if (!/-DSB_BUILD_TESTS=OFF/.test(cmake) || !/-DCMAKE_BUILD_TYPE=Release/.test(cmake)) problem("Dockerfile stage build", "not a Release build without tests");
}

// ---- compose.yaml
const doc = YAML.parseDocument(readFileSync(composeFile, "utf8"), { merge: true });
if (doc.errors.length) problem("compose.yaml", doc.errors[0].message);
const compose = doc.toJS({ maxAliasCount: 100 }) ?? {};
const services = compose.services ?? {};
const fieldsOf = (svc) => {
  const file = join(repo, `services/${svc}/config/${svc}.yaml`);
  if (!existsSync(file)) return null;
  // Fields are `key:` at the start of a line, commented out or not (the runner documents its
  // defaults as comments).
  return new Set([...readFileSync(file, "utf8").matchAll(/^#?\s?([a-z_]+):/gm)].map((m) => m[1]));
};
for (const need of ["postgres", "redis", "edge", "router", "runner", "registry", "auth", "provision"]) {
  if (!services[need]) problem("compose.yaml", `no service ${need}`);
}
for (const [name, svc] of Object.entries(services)) {
  const where = `compose.yaml services.${name}`;
  if (!svc.image && !svc.build) problem(where, "neither image nor build");
  if (svc.image && !/:/.test(svc.image.replace(/\$\{[^}]*\}/g, "x"))) problem(where, "image without a tag");
  if (svc.build) {
    if (svc.build.dockerfile && !existsSync(resolve(dirname(composeFile), svc.build.context ?? ".", svc.build.dockerfile))) problem(where, "build.dockerfile does not exist");
    if (svc.build.target && !names.has(svc.build.target)) problem(where, `build.target ${svc.build.target} is not a Dockerfile stage`);
  }
  const deps = Array.isArray(svc.depends_on) ? svc.depends_on : Object.keys(svc.depends_on ?? {});
  for (const d of deps) if (!services[d]) problem(where, `depends_on ${d}: no such service`);
  const env = Array.isArray(svc.environment)
    ? Object.fromEntries(svc.environment.map((e) => e.split("=", 2)))
    : svc.environment ?? {};
  for (const key of Object.keys(env)) {
    const m = key.match(/^SWITCHBOARD_([A-Z]+)_([A-Z_]+)$/);
    // SWITCHBOARD_REGISTRY_ADDRESS is also sbctl's own variable (its default --registry), and
    // SWITCHBOARD_ADMIN_TOKEN only sbctl's.
    if (!m || key === "SWITCHBOARD_ADMIN_TOKEN" ||
        (key === "SWITCHBOARD_REGISTRY_ADDRESS" && !/registry/.test(svc.build?.target ?? ""))) continue;
    const fields = fieldsOf(m[1].toLowerCase());
    if (!fields) problem(where, `${key}: no service ${m[1].toLowerCase()}`);
    else if (!fields.has(m[2].toLowerCase())) problem(where, `${key}: ${m[1].toLowerCase()} has no field ${m[2].toLowerCase()}`);
  }
  for (const c of svc.configs ?? []) {
    const src = typeof c === "string" ? c : c.source;
    if (!compose.configs?.[src]) problem(where, `config ${src} is not defined`);
  }
  for (const v of svc.volumes ?? []) {
    const vol = typeof v === "string" ? v.split(":")[0] : v.source;
    if (vol && !vol.startsWith(".") && !vol.startsWith("/") && !(compose.volumes && vol in compose.volumes)) problem(where, `volume ${vol} is not declared`);
  }
}
for (const [name, cfg] of Object.entries(compose.configs ?? {})) {
  if (cfg?.content !== undefined) {
    try { YAML.parse(cfg.content); } catch (e) { problem(`compose.yaml configs.${name}`, e.message); }
  }
}

if (problems.length) {
  for (const p of problems) console.error(`FAIL ${p}`);
  process.exit(1);
}
console.log(`ok: Dockerfile (${stages.length} stages, ${instructions.length} instructions), compose.yaml (${Object.keys(services).length} services)`);
