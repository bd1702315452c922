/**
 * The shape of the code: no import cycle, between files or between folders, and every import between
 * folders pointing down the layer order the README's Architecture section states. Imports are read
 * with the TypeScript parser, every kind that ties one file to another: `import`, `import type`,
 * `export … from`, `import x = require()`, dynamic `import()`, `require()` and `typeof import()`.
 * A failure names the importing file and line and the file imported.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';
import * as nodePath from 'node:path';

/** The test/ folder (paths below were written from there). */
const TEST_DIR = nodePath.resolve(__dirname, '..');

const ROOT = path.resolve(TEST_DIR, '..');

/** The folders whose imports are walked. */
const WALKED = ['functions', 'shared', 'cli', 'dev', 'bench'];

/**
 * The layers, top first: a folder may import its own files and any folder of a LOWER layer, never one
 * of its own layer or above. `shared` stands for the files directly in shared/. This is the one
 * statement of the rule; the README's Architecture section says the same in words.
 */
const LAYERS: readonly (readonly string[])[] = [
  ['bench'],
  ['cli', 'dev'],
  ['functions'],
  ['shared/dashboard'],
  ['shared/monitoring', 'shared/maintenance'],
  ['shared/run'],
  ['shared/host'],
  ['shared/backup', 'shared/lineage'],
  ['shared/refresh'],
  ['shared/ingest'],
  ['shared/sql'],
  ['shared/catalog'],
  ['shared/tiering'],
  ['shared/pipeline'],
  ['shared/formats'],
  ['shared/delta', 'shared/orchestration'],
  ['shared/storage'],
  ['shared/config', 'shared/command-line', 'shared'],
];

interface Edge {
  from: string;
  to: string;
  line: number;
}

/** The `.ts` files under `folders` of `root`, repository-relative with `/`. */
function sourceFiles(root: string, folders: readonly string[]): string[] {
  const out: string[] = [];
  const visit = (relative: string) => {
    for (const name of readdirSync(path.join(root, relative)).sort()) {
      const child = `${relative}/${name}`;
      if (statSync(path.join(root, child)).isDirectory()) visit(child);
      else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(child);
    }
  };
  for (const folder of folders) visit(folder);
  return out;
}

/** The relative module specifiers of one file, with their lines. */
function relativeImports(fileName: string, text: string): { specifier: string; line: number }[] {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true);
  const found: { specifier: string; line: number }[] = [];
  const add = (literal: ts.Node | undefined) => {
    if (literal && ts.isStringLiteralLike(literal) && literal.text.startsWith('.')) {
      found.push({ specifier: literal.text, line: source.getLineAndCharacterOfPosition(literal.getStart()).line + 1 });
    }
  };
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) add(node.moduleSpecifier);
    else if (ts.isExternalModuleReference(node)) add(node.expression);
    else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) add(node.argument.literal);
    else if (ts.isCallExpression(node)) {
      const callee = node.expression;
      if (callee.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(callee) && callee.text === 'require')) add(node.arguments[0]);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** The file a relative specifier names (`./x`, `./x.js`, `./x/` → `x.ts` or `x/index.ts`), or null. */
function resolve(root: string, from: string, specifier: string): string | null {
  const base = path.posix.normalize(path.posix.join(path.posix.dirname(from), specifier)).replace(/\/$/, '');
  const stem = base.replace(/\.js$/, '');
  for (const candidate of [base, `${stem}.ts`, `${stem}/index.ts`]) {
    try {
      if (statSync(path.join(root, candidate)).isFile()) return candidate;
    } catch {
      // not this one
    }
  }
  return null;
}

/** The folder a file belongs to for layering: `shared/<stage>`, `shared` for shared/*.ts, else its top folder. */
function folderOf(file: string): string {
  const parts = file.split('/');
  if (parts[0] === 'shared') return parts.length > 2 ? `shared/${parts[1]}` : 'shared';
  return parts[0];
}

interface ImportGraph {
  files: string[];
  edges: Edge[];
  unresolved: string[];
}

function importGraph(root: string, folders: readonly string[]): ImportGraph {
  const files = sourceFiles(root, folders);
  const edges: Edge[] = [];
  const unresolved: string[] = [];
  for (const file of files) {
    for (const { specifier, line } of relativeImports(file, readFileSync(path.join(root, file), 'utf8'))) {
      const to = resolve(root, file, specifier);
      if (to) edges.push({ from: file, to, line });
      else unresolved.push(`${file}:${line} imports '${specifier}', which is no file`);
    }
  }
  return { files, edges, unresolved };
}

/** Strongly connected components with more than one member (Tarjan), each sorted. */
function cycles(nodes: readonly string[], next: (node: string) => Iterable<string>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  let counter = 0;
  const connect = (node: string) => {
    index.set(node, counter);
    low.set(node, counter);
    counter++;
    stack.push(node);
    onStack.add(node);
    for (const target of next(node)) {
      if (!index.has(target)) {
        connect(target);
        low.set(node, Math.min(low.get(node)!, low.get(target)!));
      } else if (onStack.has(target)) low.set(node, Math.min(low.get(node)!, index.get(target)!));
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1) found.push(component.sort());
    }
  };
  for (const node of nodes) if (!index.has(node)) connect(node);
  return found;
}

function adjacency(edges: readonly Edge[], key: (file: string) => string): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const edge of edges) {
    const [from, to] = [key(edge.from), key(edge.to)];
    if (from === to) continue;
    if (!out.has(from)) out.set(from, new Set());
    out.get(from)!.add(to);
  }
  return out;
}

function fileCycles(graph: ImportGraph): string[] {
  const next = adjacency(graph.edges, (f) => f);
  return cycles(graph.files, (f) => next.get(f) ?? []).map((c) => `files import each other in a cycle: ${c.join(', ')}`);
}

function folderCycles(graph: ImportGraph): string[] {
  const next = adjacency(graph.edges, folderOf);
  const folders = [...new Set(graph.files.map(folderOf))];
  return cycles(folders, (f) => next.get(f) ?? []).map((members) => {
    const inside = new Set(members);
    const arrows = graph.edges.filter((e) => folderOf(e.from) !== folderOf(e.to) && inside.has(folderOf(e.from)) && inside.has(folderOf(e.to)));
    return `folders import each other in a cycle: ${members.join(', ')} (${arrows.map((e) => `${e.from}:${e.line} → ${e.to}`).join('; ')})`;
  });
}

/** Every import between folders that does not point to a lower layer, and every folder no layer names. */
function layeringBreaks(graph: ImportGraph, layers: readonly (readonly string[])[]): string[] {
  const layerOf = new Map<string, number>();
  layers.forEach((folders, i) => folders.forEach((f) => layerOf.set(f, i)));
  const breaks: string[] = [];
  for (const folder of new Set(graph.files.map(folderOf))) {
    if (!layerOf.has(folder))
      breaks.push(`${folder}/ is in no layer: add it to LAYERS (test/architecture/architecture.test.ts) and to the README's Architecture section`);
  }
  for (const edge of graph.edges) {
    const [from, to] = [folderOf(edge.from), folderOf(edge.to)];
    if (from === to || !layerOf.has(from)) continue;
    const target = layerOf.get(to);
    if (target === undefined) breaks.push(`${edge.from}:${edge.line} imports ${edge.to}, outside the layered folders`);
    else if (target <= layerOf.get(from)!)
      breaks.push(
        `${edge.from}:${edge.line} imports ${edge.to}: ${from}/ may not import ${to}/ (${target === layerOf.get(from) ? 'same layer' : 'a higher layer'})`,
      );
  }
  return breaks.sort();
}

describe('the import graph of functions/, shared/, cli/, dev/ and bench/', () => {
  const graph = importGraph(ROOT, WALKED);

  it('is read in full: every relative import names a file, and there are hundreds of them', () => {
    expect(graph.unresolved).toEqual([]);
    // A walker that found nothing would pass the checks below; the code base is far larger than this.
    expect(graph.files.length).toBeGreaterThan(150);
    expect(graph.edges.length).toBeGreaterThan(500);
  });

  it('has no cycle between files', () => {
    expect(fileCycles(graph)).toEqual([]);
  });

  it('has no cycle between folders', () => {
    expect(folderCycles(graph)).toEqual([]);
  });

  it('points every import between folders down the layer order', () => {
    expect(layeringBreaks(graph, LAYERS)).toEqual([]);
  });
});

describe('the import walk itself', () => {
  const scratch = mkdtempSync(path.join(tmpdir(), 'sluice-architecture-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));
  const write = (file: string, text: string) => {
    mkdirSync(path.dirname(path.join(scratch, file)), { recursive: true });
    writeFileSync(path.join(scratch, file), text);
  };

  it('sees every kind of import, and names the cycles and the arrows against the layers', () => {
    write('shared/low/a.ts', "import type { B } from './b';\nexport type A = B;\n");
    write('shared/low/b.ts', "export type { A } from './a';\nexport type B = number;\n");
    write('shared/low/c.ts', "export const c = () => import('../high/d');\n");
    write('shared/high/d.ts', "import x = require('../low');\nexport const d = x;\n");
    write('shared/high/e.ts', "const f = require('./f.js');\nexport type T = typeof import('../../cli/g');\n");
    write('shared/high/f.ts', 'export const f = 1;\n');
    write('shared/low/index.ts', "export * from './b';\n");
    write('cli/g.ts', "import { f } from '../test/h';\nexport const g = f;\n");
    write('test/h.ts', 'export const f = 1;\n');
    write('dev/i.ts', "import '../shared/nowhere';\n");

    const walked = importGraph(scratch, ['shared', 'cli', 'dev']);
    expect(walked.edges.map((e) => `${e.from}:${e.line} ${e.to}`).sort()).toEqual([
      'cli/g.ts:1 test/h.ts',
      'shared/high/d.ts:1 shared/low/index.ts',
      'shared/high/e.ts:1 shared/high/f.ts',
      'shared/high/e.ts:2 cli/g.ts',
      'shared/low/a.ts:1 shared/low/b.ts',
      'shared/low/b.ts:1 shared/low/a.ts',
      'shared/low/c.ts:1 shared/high/d.ts',
      'shared/low/index.ts:1 shared/low/b.ts',
    ]);
    expect(walked.unresolved).toEqual(["dev/i.ts:1 imports '../shared/nowhere', which is no file"]);
    expect(fileCycles(walked)).toEqual(['files import each other in a cycle: shared/low/a.ts, shared/low/b.ts']);
    expect(folderCycles(walked)).toEqual([
      'folders import each other in a cycle: shared/high, shared/low (shared/high/d.ts:1 → shared/low/index.ts; shared/low/c.ts:1 → shared/high/d.ts)',
    ]);
    expect(layeringBreaks(walked, [['cli'], ['dev'], ['shared/high'], ['shared/low']])).toEqual([
      'cli/g.ts:1 imports test/h.ts, outside the layered folders',
      'shared/high/e.ts:2 imports cli/g.ts: shared/high/ may not import cli/ (a higher layer)',
      'shared/low/c.ts:1 imports shared/high/d.ts: shared/low/ may not import shared/high/ (a higher layer)',
    ]);
    expect(layeringBreaks(walked, [['cli', 'dev', 'shared/high'], ['shared/low']])).toEqual([
      'cli/g.ts:1 imports test/h.ts, outside the layered folders',
      'shared/high/e.ts:2 imports cli/g.ts: shared/high/ may not import cli/ (same layer)',
      'shared/low/c.ts:1 imports shared/high/d.ts: shared/low/ may not import shared/high/ (a higher layer)',
    ]);
    expect(layeringBreaks(walked, [['cli'], ['shared/high']])).toContain(
      "shared/low/ is in no layer: add it to LAYERS (test/architecture/architecture.test.ts) and to the README's Architecture section",
    );
  });
});
