/**
 * One instance's memory is shared by the activities it runs at once: the DuckDB memory limit of a
 * refresh defaults to its share, a limit that overcommits the instance stops the app at start-up with
 * the settings named, and the Bicep sets both numbers the split is made from.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { describe, expect, it } from 'vitest';
import { ACTIVITY_CONCURRENCY_SETTING, ConfigError, loadInstanceResources } from '../../shared/config';
import { checkRefreshSettings } from '../../shared/host';
import { sqlOptionsFromEnv } from '../../shared/sql';

/** The test/ folder (paths below were written from there). */
const TEST_DIR = nodePath.resolve(__dirname, '..');

const ROOT = nodePath.resolve(TEST_DIR, '..');
const HOST_JSON = nodePath.join(ROOT, 'host.json');
const hostConcurrency = JSON.parse(readFileSync(HOST_JSON, 'utf8')).extensions.durableTask.maxConcurrentActivityFunctions as number;

/** A host.json with this durableTask section, in a fresh folder. */
function hostJson(durableTask: Record<string, unknown>): string {
  const file = nodePath.join(mkdtempSync(nodePath.join(tmpdir(), 'sluice-host-')), 'host.json');
  writeFileSync(file, JSON.stringify({ version: '2.0', extensions: { durableTask } }));
  return file;
}

describe('the DuckDB memory limit of a refresh activity', () => {
  it("defaults to the instance's memory, less a reserve, shared by the activities host.json runs at once", () => {
    expect(hostConcurrency).toBe(4);
    expect(loadInstanceResources({})).toMatchObject({ instanceMemoryMb: 2048, activityConcurrency: 4 });
    expect(loadInstanceResources({}).activityConcurrencySource).toContain('host.json extensions.durableTask.maxConcurrentActivityFunctions');
    // 2048 MB less 512 reserved, over 4 activities; 4096 less 1024; 512 less 256.
    expect(sqlOptionsFromEnv({}).memoryLimit).toBe('384MiB');
    expect(sqlOptionsFromEnv({ SLUICE_INSTANCE_MEMORY_MB: '4096' }).memoryLimit).toBe('768MiB');
    expect(sqlOptionsFromEnv({ SLUICE_INSTANCE_MEMORY_MB: '512' }).memoryLimit).toBe('64MiB');
  });

  it('takes the concurrency from the app setting that overrides host.json, as the Functions host does', () => {
    const env = { [ACTIVITY_CONCURRENCY_SETTING]: '2' };
    expect(loadInstanceResources(env)).toMatchObject({ activityConcurrency: 2, activityConcurrencySource: ACTIVITY_CONCURRENCY_SETTING });
    expect(sqlOptionsFromEnv(env).memoryLimit).toBe('768MiB');
    expect(loadInstanceResources({}, hostJson({ maxConcurrentActivityFunctions: 8 })).activityConcurrency).toBe(8);
  });

  it('refuses a limit that, times the activities at once, overcommits the instance, naming every setting involved', () => {
    const message = () => sqlOptionsFromEnv({ SLUICE_SQL_MEMORY_LIMIT: '1GB' });
    expect(message).toThrow(
      /SLUICE_SQL_MEMORY_LIMIT 1GB × 4 activities at once \(.*host\.json extensions\.durableTask\.maxConcurrentActivityFunctions\) \+ 512 MiB .* more than SLUICE_INSTANCE_MEMORY_MB 2048; set SLUICE_SQL_MEMORY_LIMIT to at most 384MiB/,
    );
    // The same limit fits a larger instance, or fewer activities at once.
    expect(sqlOptionsFromEnv({ SLUICE_SQL_MEMORY_LIMIT: '1GB', SLUICE_INSTANCE_MEMORY_MB: '4096', [ACTIVITY_CONCURRENCY_SETTING]: '2' }).memoryLimit).toBe(
      '1GB',
    );
    expect(() => sqlOptionsFromEnv({ SLUICE_INSTANCE_MEMORY_MB: '512', [ACTIVITY_CONCURRENCY_SETTING]: '8' })).toThrow(
      new RegExp(`SLUICE_INSTANCE_MEMORY_MB 512 less 256 MiB .* leaves 32 MiB .* each of 8 activities at once \\(${ACTIVITY_CONCURRENCY_SETTING}\\)`),
    );
  });

  it('stops the app at start-up (the refresh settings check) and names bad resource settings', () => {
    expect(checkRefreshSettings({ SLUICE_SQL_MEMORY_LIMIT: '1GB' }, []).join('\n')).toMatch(
      /SLUICE_SQL_MEMORY_LIMIT 1GB × 4 .* more than SLUICE_INSTANCE_MEMORY_MB 2048/,
    );
    expect(checkRefreshSettings({ SLUICE_INSTANCE_MEMORY_MB: '2GB' }, []).join('\n')).toMatch(
      /SLUICE_INSTANCE_MEMORY_MB must be a whole number 512 or more; got "2GB"/,
    );
    expect(checkRefreshSettings({ [ACTIVITY_CONCURRENCY_SETTING]: '0' }, []).join('\n')).toMatch(
      new RegExp(`${ACTIVITY_CONCURRENCY_SETTING} must be a whole number 1 or more`),
    );
    const broken = hostJson({ maxConcurrentActivityFunctions: 'four' });
    expect(() => loadInstanceResources({}, broken)).toThrow(ConfigError);
    expect(() => loadInstanceResources({}, broken)).toThrow(
      /host\.json extensions\.durableTask\.maxConcurrentActivityFunctions must be a whole number 1 or more; got "four"/,
    );
  });
});

describe('infra sets what the memory split is made from', () => {
  const functionApp = readFileSync(nodePath.join(ROOT, 'infra/app/function-app.bicep'), 'utf8');
  const main = readFileSync(nodePath.join(ROOT, 'infra/main.bicep'), 'utf8');

  it('sets the instance memory and the activity concurrency as app settings, from the plan parameters', () => {
    expect(functionApp).toMatch(/^\s*instanceMemoryMB: instanceMemoryMB$/m); // the plan's instance size
    expect(functionApp).toMatch(/^\s*SLUICE_INSTANCE_MEMORY_MB: string\(instanceMemoryMB\)$/m);
    expect(functionApp).toMatch(new RegExp(`^\\s*${ACTIVITY_CONCURRENCY_SETTING}: string\\(activityConcurrency\\)$`, 'm'));
    expect(main).toMatch(/^\s*activityConcurrency: activityConcurrency$/m);
  });

  it('deploys by default a combination the app accepts at start-up, for every instance size it allows', () => {
    const sizes = /@allowed\(\[([\d, ]+)\]\)[^]*?\nparam instanceMemoryMB int = (\d+)/.exec(main);
    const concurrency = /\nparam activityConcurrency int = (\d+)/.exec(main)?.[1];
    expect(sizes, 'instanceMemoryMB with @allowed sizes in main.bicep').not.toBeNull();
    expect(concurrency).toBeDefined();
    for (const size of sizes![1]!.split(',').map((s) => s.trim())) {
      const env = { SLUICE_INSTANCE_MEMORY_MB: size, [ACTIVITY_CONCURRENCY_SETTING]: concurrency! };
      expect(checkRefreshSettings(env, []), `instance ${size} MB, ${concurrency} activities`).toEqual([]);
    }
  });
});
