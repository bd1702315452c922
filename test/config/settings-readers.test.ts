/**
 * Every setting in the table at the top of shared/config/settings.ts is read by the app, not only
 * validated and documented. A setting counts as read when code outside settings.ts (shared/,
 * functions/, dev/, cli/; not tests or benchmarks) names it — `env.SLUICE_X`, `env['SLUICE_X']`, or
 * the string `'SLUICE_X'` —, when host.json references it (`%SLUICE_X%`, or as a connection name), or
 * when that code reads a property of a settings.ts interface whose comment names the setting (the
 * type checker, not the text, decides which property an access reaches). Settings other helpers add
 * to the table are covered the same way.
 */
import { readFileSync } from 'node:fs';
import * as nodePath from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/** The test/ folder (paths below were written from there). */
const TEST_DIR = nodePath.resolve(__dirname, '..');

const ROOT = nodePath.resolve(TEST_DIR, '..');
const SETTINGS_FILE = nodePath.join(ROOT, 'shared', 'config', 'settings.ts');
const APP_FOLDERS = ['shared', 'functions', 'dev', 'cli'].map((f) => nodePath.join(ROOT, f) + nodePath.sep);

/** Setting names in the first column of the table in settings.ts's header comment (`X__*` kept as is). */
function tableSettings(source: string): string[] {
  const header = source.slice(0, source.indexOf('*/'));
  const names: string[] = [];
  for (const line of header.split('\n')) {
    const row = /^\s*\*\s*\|([^|]*)\|/.exec(line);
    if (!row || /^\s*(setting|-+)\s*$/.test(row[1]!)) continue;
    for (const m of row[1]!.matchAll(/`([^`]+)`/g)) names.push(m[1]!);
  }
  return names;
}

/** Setting names (as written in the table) a doc comment mentions. */
function namesIn(text: string, known: Set<string>): string[] {
  return [...text.matchAll(/`([^`]+)`/g)].map((m) => m[1]!).filter((n) => known.has(n));
}

interface Readers {
  /** Setting → where code or host.json names it. */
  direct: Map<string, string[]>;
  /** Setting → where a property documented with it is read. */
  viaProperty: Map<string, string[]>;
}

function findReaders(settings: string[]): Readers {
  const known = new Set(settings);
  const bare = (name: string) => name.replace(/__\*$/, '');
  const direct = new Map<string, string[]>();
  const viaProperty = new Map<string, string[]>();
  const note = (map: Map<string, string[]>, name: string, where: string) => map.set(name, [...(map.get(name) ?? []), where]);

  // host.json: %NAME% references, and connection names given as plain values.
  const hostJson = readFileSync(nodePath.join(ROOT, 'host.json'), 'utf8');
  for (const name of settings) {
    if (hostJson.includes(`%${bare(name)}%`) || hostJson.includes(`"${bare(name)}"`)) note(direct, name, 'host.json');
  }

  const config = ts.getParsedCommandLineOfConfigFile(
    nodePath.join(ROOT, 'tsconfig.json'),
    {},
    { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined },
  );
  if (!config) throw new Error('tsconfig.json cannot be parsed');
  const program = ts.createProgram({ rootNames: config.fileNames, options: { ...config.options, noEmit: true } });
  const checker = program.getTypeChecker();
  const settingsFile = program.getSourceFile(SETTINGS_FILE);
  if (!settingsFile) throw new Error(`${SETTINGS_FILE} is not part of the program`);

  // Properties of the interfaces settings.ts declares, with the settings their comments name.
  const documented = new Map<ts.Declaration, string[]>();
  settingsFile.forEachChild(function visit(node) {
    if (ts.isPropertySignature(node)) {
      const doc = ts
        .getJSDocCommentsAndTags(node)
        .map((d) => d.getText(settingsFile))
        .join('\n');
      const names = namesIn(doc, known);
      if (names.length) documented.set(node, names);
    }
    node.forEachChild(visit);
  });
  expect(documented.size, 'settings.ts properties whose comment names a setting').toBeGreaterThan(0);
  // Only accesses spelled like a documented property can reach one: the checker resolves just those.
  const propertyNames = new Set([...documented.keys()].map((d) => ((d as ts.PropertySignature).name as ts.Identifier).text));

  const appFiles = program
    .getSourceFiles()
    .filter((f) => APP_FOLDERS.some((d) => nodePath.resolve(f.fileName).startsWith(d)) && nodePath.resolve(f.fileName) !== SETTINGS_FILE);
  for (const file of appFiles) {
    const where = (node: ts.Node) => `${nodePath.relative(ROOT, file.fileName)}:${file.getLineAndCharacterOfPosition(node.getStart(file)).line + 1}`;
    file.forEachChild(function visit(node) {
      if ((ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) && !ts.isImportDeclaration(node.parent)) {
        for (const name of settings) if (node.text === bare(name)) note(direct, name, where(node));
      }
      let member: ts.Node | undefined;
      if (ts.isPropertyAccessExpression(node)) member = node.name;
      else if (ts.isBindingElement(node) && ts.isObjectBindingPattern(node.parent)) member = node.propertyName ?? node.name;
      if (member) {
        if (ts.isIdentifier(member)) for (const name of settings) if (member.text === bare(name)) note(direct, name, where(member));
        const symbol =
          !ts.isIdentifier(member) || !propertyNames.has(member.text)
            ? undefined
            : ts.isBindingElement(node)
              ? checker.getTypeAtLocation(node.parent).getProperty((member as ts.Identifier).text)
              : checker.getSymbolAtLocation(member);
        for (const declaration of symbol?.declarations ?? []) {
          for (const name of documented.get(declaration) ?? []) note(viaProperty, name, where(member));
        }
      }
      node.forEachChild(visit);
    });
  }
  return { direct, viaProperty };
}

describe('settings', () => {
  const source = readFileSync(SETTINGS_FILE, 'utf8');
  const settings = tableSettings(source);

  it('the table in shared/config/settings.ts lists the settings', () => {
    expect(settings).toContain('SLUICE_LAKE');
    expect(settings).toContain('SLUICE_VACUUM_RETENTION_HOURS');
    expect(settings).toContain('SLUICE_OPTIMIZE_TARGET_MB');
    expect(new Set(settings).size).toBe(settings.length);
  });

  it('every setting in the table is read by the app, not only validated', () => {
    const { direct, viaProperty } = findReaders(settings);
    const unread = settings.filter((name) => !direct.has(name) && !viaProperty.has(name));
    expect(
      unread,
      'settings nothing outside settings.ts reads (name the setting in the comment of the settings property that carries it, or remove it)',
    ).toEqual([]);
    // The two that used to be validated and documented only, and where they are read now.
    expect(viaProperty.get('SLUICE_VACUUM_RETENTION_HOURS')?.join(' ')).toMatch(/cli\/main\.ts/);
    expect(viaProperty.get('SLUICE_OPTIMIZE_TARGET_MB')?.join(' ')).toMatch(/cli\/main\.ts/);
  }, 60_000);
});
