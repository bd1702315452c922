/**
 * One module names Sluice's own places in the lake (shared/storage/lake-layout.ts): the `_sluice/…`
 * folders and the Azure Tables. A second spelling elsewhere is how the local host and the CLI came
 * to keep Durable payloads in two folders; this walks the product code for string literals naming
 * them outside that module.
 */
import { readdirSync, readFileSync } from 'node:fs';
import * as nodePath from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI_ENGINE_TABLES, DEAD_LETTER_FOLDER, LOCAL_HOST_ENGINE_TABLES, orchestrationPayloadsFolder } from '../../shared/storage/lake-layout';

/** The test/ folder (paths below were written from there). */
const TEST_DIR = nodePath.resolve(__dirname, '..');

const ROOT = nodePath.resolve(TEST_DIR, '..');
const LAYOUT = 'shared/storage/lake-layout.ts';
/** A quoted `_sluice` folder (`'_sluice'`, `'_sluice/…'`; not the `_sluice_…` columns and table folders) or a quoted lake table name. */
const SPELLED = /['"`](?:_sluice(?:['"`/])|Sluice(?:Ledger|Events|Dev|Cli)[A-Za-z]*['"`])/;

function sources(folder: string): string[] {
  return readdirSync(nodePath.join(ROOT, folder), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => nodePath.join(folder, f).split(nodePath.sep).join('/'));
}

/** The code of a file without its comments (block comments and `//` to the end of a line). */
function code(text: string): string[] {
  return text
    .replace(/\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, ' '))
    .split('\n')
    .map((line) => line.replace(/(^|[^:'"`])\/\/.*$/, '$1'));
}

describe('lake layout', () => {
  it('names every _sluice folder and lake table in one module: no other product file spells one', () => {
    const found: string[] = [];
    for (const file of ['shared', 'functions', 'dev', 'cli', 'bench'].flatMap(sources)) {
      if (file === LAYOUT) continue;
      code(readFileSync(nodePath.join(ROOT, file), 'utf8')).forEach((line, i) => {
        if (SPELLED.test(line)) found.push(`${file}:${i + 1}: ${line.trim()}`);
      });
    }
    expect(found).toEqual([]);
  });

  it('the local host and the CLI keep orchestration payloads in one folder, each engine under its own tables', () => {
    expect(orchestrationPayloadsFolder(LOCAL_HOST_ENGINE_TABLES)).toBe('_sluice/durable/SluiceDev');
    expect(orchestrationPayloadsFolder(CLI_ENGINE_TABLES)).toBe('_sluice/durable/SluiceCli');
    expect(DEAD_LETTER_FOLDER).toBe('_sluice/dead-letter');
  });
});
