/**
 * The app settings infra/app/function-app.bicep gives the function app, against the settings the code
 * reads: the settings tables at the top of the settings readers (shared/config/settings.ts,
 * shared/host/settings.ts, and any other shared/ module with a `| setting | default |` table), direct
 * reads (`env.X`, `env['X']`, `process.env.X`, `(env, 'X'`) in shared/ and functions/, and host.json's
 * `%X%` references. Both ways: a setting without a default must be set by the Bicep, and every app
 * setting the Bicep sets must be one the code, the Functions host or the platform reads (a typo there
 * would otherwise be silently ignored and the default used).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as nodePath from 'node:path';
import { describe, expect, it } from 'vitest';
import { bicepDeclarations, objectEntries, propertyOf, readRepoFile, REPO_ROOT } from '../support/bicep-text';

/** Settings the code reads only on a developer's machine or in tests, never in Azure. */
const LOCAL_ONLY: Record<string, string> = {
  SLUICE_DEBUG: 'the CLI prints stack traces',
  SLUICE_FAULT_KILL_AT: 'crash points of the crash tests',
  AZURITE_BLOB_ENDPOINT: 'where the local emulator listens',
};

/** App settings read by the Functions host, the platform or the Azure SDKs rather than Sluice's code. */
const PLATFORM: Record<string, string> = {
  APPLICATIONINSIGHTS_CONNECTION_STRING: 'the Functions host sends telemetry there',
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'telemetry with an Entra ID token',
  AZURE_CLIENT_ID: "DefaultAzureCredential picks the user-assigned identity (@azure/identity's environment credential)",
};
/** Prefixes of settings the host reads (connections and host.json overrides). */
const PLATFORM_PREFIXES = ['AzureWebJobsStorage__', 'AzureFunctionsJobHost__', 'WEBSITE_'];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = nodePath.join(dir, name);
    return statSync(full).isDirectory() ? sourceFiles(full) : full.endsWith('.ts') ? [full] : [];
  });
}

const code = ['shared', 'functions']
  .flatMap((d) => sourceFiles(nodePath.join(REPO_ROOT, d)))
  .map((f) => ({ file: nodePath.relative(REPO_ROOT, f), text: readFileSync(f, 'utf8') }));

/** Rows of every settings table in a header comment: name → default column text. */
function tableSettings(): Map<string, { default: string; file: string }> {
  const rows = new Map<string, { default: string; file: string }>();
  for (const { file, text } of code) {
    const header = text.slice(0, text.indexOf('*/') + 1);
    if (!/\|\s*setting\s*\|\s*default\s*\|/.test(header)) continue;
    for (const line of header.split('\n')) {
      const cells = /^\s*\*\s*\|([^|]*)\|([^|]*)\|/.exec(line);
      if (!cells || /^\s*(setting|-+)\s*$/.test(cells[1]!)) continue;
      for (const m of cells[1]!.matchAll(/`([^`]+)`/g)) rows.set(m[1]!, { default: cells[2]!.trim(), file });
    }
  }
  return rows;
}

/** Settings named by direct environment reads in the code. */
function directReads(): Map<string, string> {
  const reads = new Map<string, string>();
  const patterns = [/\benv\.([A-Z][A-Za-z0-9_]+)/g, /\benv\[['"]([A-Za-z][A-Za-z0-9_]+)['"]\]/g, /\(env, '([A-Za-z][A-Za-z0-9_]+)'/g];
  for (const { file, text } of code) for (const p of patterns) for (const m of text.matchAll(p)) if (!reads.has(m[1]!)) reads.set(m[1]!, file);
  return reads;
}

const table = tableSettings();
const direct = directReads();
const hostJsonRefs = [...readRepoFile('host.json').matchAll(/%(\w+)%/g)].map((m) => m[1]!);
const appSettingsDecl = bicepDeclarations(readRepoFile('infra/app/function-app.bicep')).find(
  (d) => d.type === 'Microsoft.Web/sites/config' && propertyOf(d.body, 'name') === "'appsettings'",
);
const appSettings = objectEntries(appSettingsDecl!.body, 'properties');

/** `X` for `X__key` and for `X__*`; the name itself otherwise. */
const connectionOf = (name: string) => name.replace(/__.*$/, '');
const noDefault = (text: string) => /^(—|-|unset|)$/.test(text);

describe('infra/app/function-app.bicep app settings against the settings the code reads', () => {
  it('finds the settings tables and the Bicep app settings it compares', () => {
    expect(table.size).toBeGreaterThan(15);
    expect(table.has('SLUICE_LAKE_CONTAINER') && table.has('SLUICE_RECONCILE_SCHEDULE')).toBe(true);
    expect(appSettings.size).toBeGreaterThan(10);
  });

  it('documents every setting the code reads directly in a settings table (or it is local only)', () => {
    const undocumented = [...direct].filter(
      ([name]) => !table.has(name) && !LOCAL_ONLY[name] && ![...table.keys()].some((t) => t.endsWith('__*') && name.startsWith(t.slice(0, -1))),
    );
    expect(undocumented.map(([name, file]) => `${name} (read in ${file})`)).toEqual([]);
  });

  it('sets every setting that has no default (a connection counts as set in either of its forms)', () => {
    const setConnections = new Set([...appSettings.keys()].map(connectionOf));
    const missing = [...table]
      .filter(([name, row]) => noDefault(row.default) && !LOCAL_ONLY[name])
      .filter(([name]) => !appSettings.has(name.replace(/__\*$/, '')) && !setConnections.has(connectionOf(name)))
      .map(([name, row]) => `${name} (${row.file})`);
    expect(missing).toEqual([]);
    for (const name of hostJsonRefs) expect(appSettings.has(name), `host.json %${name}%`).toBe(true);
  });

  it('sets nothing the code, the host or the platform does not read', () => {
    const known = (name: string) =>
      table.has(name) ||
      direct.has(name) ||
      hostJsonRefs.includes(name) ||
      PLATFORM[name] !== undefined ||
      PLATFORM_PREFIXES.some((p) => name.startsWith(p)) ||
      // `X__key` of a connection the code reads as `X` or documents as `X__…`.
      (name.includes('__') && [...table.keys()].some((t) => connectionOf(t) === connectionOf(name)));
    expect([...appSettings.keys()].filter((name) => !known(name))).toEqual([]);
  });

  it('keeps secrets out of app settings: SLUICE_PII_KEY is a Key Vault reference, no keys or connection strings', () => {
    expect(appSettings.get('SLUICE_PII_KEY')).toMatch(/^'@Microsoft\.KeyVault\(SecretUri=\$\{\w+\}\)'$/);
    const literalSecrets = [...appSettings].filter(([, v]) => /AccountKey=|SharedAccessKey=|UseDevelopmentStorage/i.test(v));
    expect(literalSecrets).toEqual([]);
    // Connections are identity-based: no plain (connection string) form of a connection is set.
    for (const connection of ['SLUICE_LAKE', 'SLUICE_EVENTHUB', 'AzureWebJobsStorage']) expect(appSettings.has(connection), connection).toBe(false);
  });
});
