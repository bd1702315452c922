/**
 * Reading the project's Bicep files as text, for the structural tests of test/deploy/ (no Bicep
 * compiler can run here). The files follow the layout `bicep format` gives: one `resource`/`module`
 * block per top-level declaration, closed by a `}` (or `]` for loops) at the start of a line, two
 * spaces of indentation per level.
 */
import { readFileSync } from 'node:fs';
import * as nodePath from 'node:path';

/** The repository root (this file is in test/support/). */
export const REPO_ROOT = nodePath.resolve(__dirname, '..', '..');

/** The text of a file of the repository. */
export function readRepoFile(relative: string): string {
  return readFileSync(nodePath.join(REPO_ROOT, relative), 'utf8');
}

/** One top-level `resource` or `module` declaration. */
export interface BicepDeclaration {
  kind: 'resource' | 'module';
  symbol: string;
  /** Resource type without the API version, or the module path. */
  type: string;
  existing: boolean;
  /** The `if (...)` condition, when there is one. */
  condition?: string;
  /** The loop header (`for x in y`), when it is a loop. */
  loop?: string;
  /** The text between the opening and closing lines. */
  body: string;
}

/**
 * Every top-level `resource` and `module` declaration of a Bicep file.
 * @param text the file's content
 * @returns the declarations in file order
 */
export function bicepDeclarations(text: string): BicepDeclaration[] {
  const out: BicepDeclaration[] = [];
  const header = /^(resource|module) (\w+) '([^']+)'( existing)? = (\[\s*for ([^:]+):\s*)?(?:if \((.*)\) )?\{\s*$/gm;
  for (const m of text.matchAll(header)) {
    const start = m.index! + m[0].length;
    const close = m[5] ? /^\s*\}\s*\]\s*$/m : /^\}\s*$/m;
    const rest = text.slice(start);
    const end = close.exec(rest);
    if (!end) throw new Error(`bicep: no end of ${m[1]} ${m[2]}`);
    const [type] = m[3]!.split('@');
    out.push({
      kind: m[1] as 'resource' | 'module',
      symbol: m[2]!,
      type: type!,
      existing: Boolean(m[4]),
      ...(m[7] ? { condition: m[7] } : {}),
      ...(m[6] ? { loop: m[6].trim() } : {}),
      body: rest.slice(0, end.index),
    });
  }
  return out;
}

/**
 * The value of `key:` at the first level of a block body (two spaces deeper than the block).
 * @param body a declaration's body
 * @param key the property
 * @param indent spaces before the key (2 for a top-level declaration's properties)
 * @returns the value text, or undefined
 */
export function propertyOf(body: string, key: string, indent = 2): string | undefined {
  return new RegExp(`^ {${indent}}${key}: (.+)$`, 'm').exec(body)?.[1]?.trim();
}

/**
 * The `key: value` lines of an object nested in a body, e.g. the `properties:` object of app settings.
 * @param body a declaration's body
 * @param objectKey the key that opens the object
 * @param indent spaces before `objectKey`
 * @returns key → value text, in order
 */
export function objectEntries(body: string, objectKey: string, indent = 2): Map<string, string> {
  const open = new RegExp(`^ {${indent}}${objectKey}: (?:union\\()?\\{\\s*$`, 'm').exec(body);
  if (!open) throw new Error(`bicep: no object ${objectKey}`);
  const entries = new Map<string, string>();
  const lines = body.slice(open.index + open[0].length).split('\n');
  for (const line of lines) {
    if (new RegExp(`^ {${indent}}\\}`).test(line)) break;
    const m = new RegExp(`^ {${indent + 2}}([A-Za-z_][\\w]*): (.+)$`).exec(line);
    if (m) entries.set(m[1]!, m[2]!.trim());
  }
  return entries;
}

/**
 * The `param` declarations of a Bicep file with their default value text (undefined without one).
 * @param text the file's content
 * @returns name → default
 */
export function bicepParams(text: string): Map<string, string | undefined> {
  const params = new Map<string, string | undefined>();
  for (const m of text.matchAll(/^param (\w+) \w+(?: = (.+))?$/gm)) params.set(m[1]!, m[2]?.trim());
  return params;
}
