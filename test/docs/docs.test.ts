/**
 * The documentation a newcomer trusts: README.md, CONTRIBUTING.md and docs/. The README's architecture
 * must name exactly the functions `functions/definitions.ts` registers and exactly the folders of
 * `shared/`, so a function or a stage cannot be added (or removed) without the map following; links
 * must lead somewhere; code comments must not send a reader to a document the repository lacks.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FUNCTIONS } from '../../functions/definitions';
import * as nodePath from 'node:path';

/** The test/ folder (paths below were written from there). */
const TEST_DIR = nodePath.resolve(__dirname, '..');

const root = path.resolve(TEST_DIR, '..');

function readText(relative: string): string {
  return readFileSync(path.join(root, relative), 'utf8');
}

/** The text of a `## heading` section of a Markdown file, up to the next `## ` heading. */
function section(markdown: string, heading: string): string {
  const lines = markdown.split('\n');
  const start = lines.findIndex((l) => l === `## ${heading}`);
  if (start < 0) throw new Error(`README.md has no "## ${heading}" section`);
  const end = lines.findIndex((l, i) => i > start && l.startsWith('## '));
  return lines.slice(start, end < 0 ? undefined : end).join('\n');
}

/** The backticked names in the first cell of each Markdown table row of `text` (header rows skipped). */
function firstCellNames(text: string): string[] {
  const names: string[] = [];
  for (const line of text.split('\n')) {
    const cell = /^\|\s*([^|]*?)\s*\|/.exec(line)?.[1];
    if (!cell || /^-+$/.test(cell)) continue;
    for (const m of cell.matchAll(/`([^`]+)`/g)) names.push(m[1]!);
  }
  return names;
}

/** GitHub's anchor of a heading: lowercase, punctuation dropped, spaces to hyphens. */
function anchorOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');
}

function headingAnchors(markdown: string): Set<string> {
  const withoutCode = markdown.replace(/```[\s\S]*?```/g, '');
  return new Set([...withoutCode.matchAll(/^#{1,6} (.+)$/gm)].map((m) => anchorOf(m[1]!)));
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    if (name === 'node_modules' || name.startsWith('.')) return [];
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? walk(full) : [full];
  });
}

const docs = [
  'README.md',
  'CONTRIBUTING.md',
  ...readdirSync(path.join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

describe('README.md architecture', () => {
  const architecture = section(readText('README.md'), 'Architecture');

  it('lists in its function table exactly the functions of functions/definitions.ts', () => {
    const listed = firstCellNames(architecture).filter((name) => /^\w+$/.test(name));
    expect([...new Set(listed)].sort()).toEqual(FUNCTIONS.map((f) => f.name).sort());
  });

  it('names every function in its diagram', () => {
    const diagram = /```\n([\s\S]*?)```/.exec(architecture)?.[1] ?? '';
    const missing = FUNCTIONS.map((f) => f.name).filter((name) => !new RegExp(`\\b${name}\\b`).test(diagram));
    expect(missing).toEqual([]);
  });

  it('describes exactly the folders and files of shared/ in its folder table', () => {
    const listed = firstCellNames(architecture).filter((name) => name.startsWith('shared/'));
    const present = readdirSync(path.join(root, 'shared')).map((name) => `shared/${name}`);
    expect([...new Set(listed)].sort()).toEqual(present.sort());
  });
});

describe('documentation links', () => {
  it('lead to files and headings that exist', () => {
    const broken: string[] = [];
    for (const doc of docs) {
      const text = readText(doc).replace(/```[\s\S]*?```/g, '');
      for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        const link = m[1]!;
        if (/^[a-z]+:/.test(link)) continue;
        const [file, anchor] = link.split('#') as [string, string | undefined];
        const target = file ? path.join(path.dirname(doc), file) : doc;
        if (!existsSync(path.join(root, target))) broken.push(`${doc}: ${link} (no ${target})`);
        else if (anchor !== undefined && target.endsWith('.md') && !headingAnchors(readText(target)).has(anchor))
          broken.push(`${doc}: ${link} (no heading #${anchor} in ${target})`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('leave no docs/ page unreachable from the README', () => {
    const readme = readText('README.md');
    const unlinked = docs.filter((d) => d.startsWith('docs/') && !readme.includes(`](${d}`));
    expect(unlinked).toEqual([]);
  });
});

describe('code comments', () => {
  it('cite only Markdown documents the repository has', () => {
    const known = new Set(
      walk(root)
        .filter((f) => f.endsWith('.md'))
        .map((f) => path.relative(root, f)),
    );
    const knownNames = new Set([...known].map((f) => path.basename(f)));
    const dangling: string[] = [];
    for (const folder of ['shared', 'functions', 'cli', 'dev', 'bench', 'test']) {
      for (const file of walk(path.join(root, folder)).filter((f) => f.endsWith('.ts'))) {
        for (const m of readFileSync(file, 'utf8').matchAll(/[\w./-]*\b[\w-]+\.md\b/g)) {
          const cited = m[0];
          if (!known.has(cited) && !knownNames.has(path.basename(cited))) dangling.push(`${path.relative(root, file)}: ${cited}`);
        }
      }
    }
    expect(dangling).toEqual([]);
  });
});
