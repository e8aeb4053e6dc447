#!/usr/bin/env node
// Reads the checks.json files a conformance run wrote to its -o directory.
//
//   node report.mjs failures DIR    one line per failed check: scenario, check id, error message
//   node report.mjs scenarios DIR   the names of the scenarios with a failed check, one a line
import fs from 'node:fs';
import path from 'node:path';

const [command, dir] = process.argv.slice(2);
if (!['failures', 'scenarios'].includes(command) || !dir) {
  process.stderr.write('usage: report.mjs failures|scenarios DIR\n');
  process.exit(2);
}

// Result directories are named server-<scenario>-<ISO timestamp with dashes>.
const TIMESTAMP = /-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z$/;
const results = [];
for (const name of fs.existsSync(dir) ? fs.readdirSync(dir).sort() : []) {
  const file = path.join(dir, name, 'checks.json');
  if (!name.startsWith('server-') || !fs.existsSync(file)) continue;
  const scenario = name.slice('server-'.length).replace(TIMESTAMP, '');
  results.push({ scenario, checks: JSON.parse(fs.readFileSync(file, 'utf8')) });
}

const failed = results
  .map(({ scenario, checks }) => ({ scenario, checks: checks.filter((c) => c.status === 'FAILURE') }))
  .filter((r) => r.checks.length > 0);

if (command === 'scenarios') {
  for (const name of new Set(failed.map((r) => r.scenario))) process.stdout.write(`${name}\n`);
} else {
  for (const { scenario, checks } of failed) {
    for (const c of checks) {
      const message = (c.errorMessage ?? c.description ?? '').replace(/\s+/g, ' ').trim();
      process.stdout.write(`  FAILED ${scenario} / ${c.id}: ${message}\n`);
    }
  }
}
