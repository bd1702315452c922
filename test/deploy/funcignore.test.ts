/**
 * The package azd uploads for the function app. azd cannot run here, so this builds the same file list
 * azd would: azure.yaml asks for a remote build, so azd zips the service folder (the repository root)
 * as it is on disk, minus what `.funcignore` excludes, and the platform installs and builds it. The
 * tests check that the list holds what the build and the app need and nothing else: no tests,
 * benchmarks, data, emulator files, fixtures, version control or local settings.
 */
import { readFileSync } from 'node:fs';
import * as nodePath from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { packageFiles, parseIgnoreRules } from '../support/ignore-rules';

/** The test/ folder (paths below were written from there). */
const TEST_DIR = nodePath.resolve(__dirname, '..');
const ROOT = nodePath.resolve(TEST_DIR, '..');

const read = (relative: string) => readFileSync(nodePath.join(ROOT, relative), 'utf8');

/** Most the uploaded sources may weigh: they are TypeScript, the lock file and a few YAML files. */
const MAX_PACKAGE_MB = 5;

describe('the gitignore matcher the package test relies on', () => {
  it('applies anchoring, folder-only rules, wildcards, ** and negation as git does', () => {
    const rules = parseIgnoreRules(['# comment', '', 'build/', '/top.txt', '*.log', 'docs/**/*.png', 'a?c', '!keep.log', 'x/**', '[ab]z'].join('\n'));
    expect(rules.ignores('build', true)).toBe(true);
    expect(rules.ignores('src/build', true)).toBe(true); // no inner slash: any depth
    expect(rules.ignores('build', false)).toBe(false); // folder-only rule, a file named build
    expect(rules.ignores('top.txt', false)).toBe(true);
    expect(rules.ignores('src/top.txt', false)).toBe(false); // anchored to the root
    expect(rules.ignores('deep/er/run.log', false)).toBe(true);
    expect(rules.ignores('keep.log', false)).toBe(false); // negated by a later rule
    expect(rules.ignores('docs/a.png', false)).toBe(true); // ** matches no folder too
    expect(rules.ignores('docs/a/b/c.png', false)).toBe(true);
    expect(rules.ignores('docsa.png', false)).toBe(false);
    expect(rules.ignores('abc', false)).toBe(true);
    expect(rules.ignores('abbc', false)).toBe(false);
    expect(rules.ignores('x/y/z', false)).toBe(true);
    expect(rules.ignores('x', true)).toBe(false); // `x/**` is what is inside x, not x itself
    expect(rules.ignores('bz', false)).toBe(true);
    expect(rules.ignores('cz', false)).toBe(false);
    expect(rules.ignores('build/out.js', false)).toBe(false);
    expect(rules.excludes('build/out.js', false)).toBe(true); // inside an ignored folder
  });
});

describe('.funcignore: the package azd uploads for a remote build', () => {
  const rules = parseIgnoreRules(read('.funcignore'));
  const files = packageFiles(ROOT, rules);
  const paths = new Set(files.map((f) => f.path));
  const bytes = files.reduce((sum, f) => sum + f.size, 0);

  it('is small, and says how small', () => {
    const mb = bytes / (1024 * 1024);
    // Shown in the test output, so a change in size is noticed in review.
    console.log(`function app package (remote build): ${files.length} files, ${mb.toFixed(2)} MB`);
    expect(files.length).toBeGreaterThan(0);
    expect(mb).toBeLessThan(MAX_PACKAGE_MB);
  });

  it('leaves out tests, benchmarks, data, emulator files, fixtures, version control and local settings', () => {
    const forbidden = [
      { what: 'tests', test: (p: string) => /^test\//.test(p) || /\.test\.[cm]?[jt]s$/.test(p) },
      { what: 'benchmarks', test: (p: string) => /^bench\//.test(p) },
      { what: 'fixtures', test: (p: string) => /(^|\/)fixtures\//.test(p) },
      { what: 'data files', test: (p: string) => /\.(parquet|csv|tsv|avro|ndjson|jsonl|gz|zst|zip|crc)$/i.test(p) || /(^|\/)_delta_log\//.test(p) },
      { what: 'emulator files', test: (p: string) => /(^|\/)(__azurite|__blobstorage__|__queuestorage__|__tablestorage__|\.azurite\/)/.test(p) },
      { what: 'the local host', test: (p: string) => /^dev\//.test(p) },
      { what: 'version control', test: (p: string) => /(^|\/)\.git(\/|$|hub\/|ignore$)/.test(p) },
      { what: 'local settings and azd environments', test: (p: string) => /(^|\/)local\.settings\.json/.test(p) || /^\.azure\//.test(p) },
      { what: 'installed or built files', test: (p: string) => /^(node_modules|dist)(\/|$)/.test(p) },
    ];
    const found = forbidden.flatMap(({ what, test }) => [...paths].filter(test).map((p) => `${what}: ${p}`));
    expect(found).toEqual([]);
  });

  it('never uploads what git ignores (local artefacts such as emulator data and bench data)', () => {
    const gitRules = read('.gitignore')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#') && !l.startsWith('!'));
    // A sample path each rule matches: wildcards stand for one letter.
    const missed = gitRules.filter((rule) => !rules.excludes(rule.replace(/\*/g, 'x').replace(/^\/|\/$/g, ''), rule.endsWith('/')));
    expect(missed, '.gitignore rules .funcignore does not cover').toEqual([]);
  });

  it('holds what the remote build needs', () => {
    for (const file of [
      'package.json',
      'package-lock.json',
      'tsconfig.json',
      'host.json',
      'functions/index.ts',
      // The dashboard page is bundled by the build from these.
      'dashboard/app.ts',
      'dashboard/tsconfig.json',
      'scripts/build-dashboard.mjs',
    ]) {
      expect(paths.has(file), file).toBe(true);
    }
    // The build compiles functions/ to where package.json "main" looks (package.test.ts checks the mapping).
    const functionSources = [...paths].filter((p) => /^functions\/[^/]+\.ts$/.test(p));
    expect(functionSources.length).toBeGreaterThan(1);
    // npm install runs `prepare`, which is the build: the TypeScript compile and the dashboard bundle.
    const scripts = JSON.parse(read('package.json')).scripts;
    expect(scripts.prepare).toBe('npm run build');
    expect(scripts.build).toMatch(/\btsc\b/);
    expect(scripts.build).toMatch(/build-dashboard\.mjs/);
  });

  it('holds every module the app imports: functions/ reach nothing outside the package', () => {
    const unresolved: string[] = [];
    const seen = new Set<string>();
    const queue = [...paths].filter((p) => /^functions\/[^/]+\.ts$/.test(p));
    while (queue.length) {
      const file = queue.pop()!;
      if (seen.has(file)) continue;
      seen.add(file);
      const source = ts.createSourceFile(file, read(file), ts.ScriptTarget.Latest);
      const specifiers: string[] = [];
      source.forEachChild(function visit(node) {
        if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
          specifiers.push(node.moduleSpecifier.text);
        } else if (ts.isCallExpression(node) && (node.expression.getText(source) === 'require' || node.expression.kind === ts.SyntaxKind.ImportKeyword)) {
          const arg = node.arguments[0];
          if (arg && ts.isStringLiteral(arg)) specifiers.push(arg.text);
        }
        node.forEachChild(visit);
      });
      for (const specifier of specifiers.filter((s) => s.startsWith('.'))) {
        const base = nodePath.posix.normalize(nodePath.posix.join(nodePath.posix.dirname(file), specifier));
        const target = [base, `${base}.ts`, `${base.replace(/\.js$/, '.ts')}`, `${base}/index.ts`, `${base}.json`].find((c) => paths.has(c));
        if (target === undefined) unresolved.push(`${file} -> ${specifier}`);
        else if (target.endsWith('.ts')) queue.push(target);
      }
    }
    expect(unresolved).toEqual([]);
    expect(seen.size).toBeGreaterThan(10);
  });

  it('holds the pipeline definitions the Bicep tells the app to serve', () => {
    const main = read('infra/main.bicep');
    const pipelines = /^param pipelines string = '([^']+)'/m.exec(main)?.[1];
    expect(pipelines, 'infra/main.bicep param pipelines').toBeDefined();
    const pattern = parseIgnoreRules(`/${pipelines}`);
    const served = [...paths].filter((p) => pattern.ignores(p, false));
    expect(served, `package files matching ${pipelines}`).not.toEqual([]);
  });
});
