/**
 * Invariants of the project itself: how it is packaged for Azure Functions, built, and deployed.
 * Each test names the file it reads, so a failure says where to look.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import * as nodePath from 'node:path';

/** The test/ folder (paths below were written from there). */
const TEST_DIR = nodePath.resolve(__dirname, '..');

const root = path.resolve(TEST_DIR, '..');

function readText(relative: string): string {
  return readFileSync(path.join(root, relative), 'utf8');
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed JSON, checked by the assertions that read it
function readJson(relative: string): any {
  return JSON.parse(readText(relative));
}

/** Files under `dir` (absolute), recursively, skipping `node_modules`. */
function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    if (name === 'node_modules') return [];
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? walk(full) : [full];
  });
}

const pkg = readJson('package.json');

describe('host.json', () => {
  const host = readJson('host.json');

  it('uses extension bundle v4, the range Flex Consumption requires', () => {
    expect(host.version).toBe('2.0');
    expect(host.extensionBundle).toEqual({ id: 'Microsoft.Azure.Functions.ExtensionBundle', version: '[4.*, 5.0.0)' });
  });

  it('keeps Durable state in Azure Storage (works on Azurite) under the SLUICE_TASK_HUB setting', () => {
    const durable = host.extensions?.durableTask;
    expect(durable?.storageProvider?.type).toBe('AzureStorage');
    expect(durable?.storageProvider?.connectionName).toBe('AzureWebJobsStorage');
    expect(durable?.hubName).toBe('%SLUICE_TASK_HUB%');
  });

  it('prefetches at least one Event Hubs batch', () => {
    const eventHubs = host.extensions?.eventHubs;
    expect(eventHubs?.prefetchCount).toBeGreaterThanOrEqual(eventHubs?.maxEventBatchSize);
  });

  it('defines every %setting% it references in the infra and in local.settings.json.example', () => {
    const referenced = [...new Set([...readText('host.json').matchAll(/%(\w+)%/g)].map((m) => m[1]!))];
    const infra = walk(path.join(root, 'infra'))
      .filter((f) => f.endsWith('.bicep'))
      .map((f) => readFileSync(f, 'utf8'))
      .join('\n');
    const local = readJson('local.settings.json.example').Values;
    for (const name of referenced) {
      expect(infra, `app setting ${name} in infra/`).toMatch(new RegExp(`^\\s*${name}\\s*:`, 'm'));
      expect(local, `local.settings.json.example Values.${name}`).toHaveProperty(name);
    }
  });
});

describe('tsconfig.json', () => {
  const parsed = ts.parseConfigFileTextToJson('tsconfig.json', readText('tsconfig.json'));
  const options = parsed.config?.compilerOptions ?? {};

  it('is strict', () => {
    expect(parsed.error).toBeUndefined();
    expect(options.strict).toBe(true);
  });

  it('emits CommonJS (the Functions worker loads it best)', () => {
    const moduleSetting = String(options.module).toLowerCase();
    expect(['commonjs', 'node16', 'node18', 'node20', 'nodenext']).toContain(moduleSetting);
    // The node* settings emit CommonJS only while package.json does not declare an ES module package.
    if (moduleSetting !== 'commonjs') expect(pkg.type ?? 'commonjs').toBe('commonjs');
  });

  it('compiles functions/ to where package.json "main" looks', () => {
    const outDir = options.outDir ?? '.';
    const rootDir = options.rootDir ?? '.';
    const compiledFunctions = path.posix.join(outDir, path.posix.relative(rootDir, 'functions'));
    expect(path.posix.dirname(pkg.main)).toBe(compiledFunctions);
  });
});

describe('package.json', () => {
  it('has the scripts the docs and CI call', () => {
    for (const script of ['build', 'start', 'test', 'bench']) expect(pkg.scripts, `scripts.${script}`).toHaveProperty(script);
  });

  it('loads function registrations from dist/functions/ only', () => {
    expect(pkg.main).toMatch(/^dist\/functions\/[^/]*\*[^/]*\.js$/);
  });

  it('ships a `sluice` command whose file exists and runs with node', () => {
    const bin = typeof pkg.bin === 'string' ? pkg.bin : pkg.bin?.sluice;
    expect(bin, 'package.json bin.sluice').toBeTypeOf('string');
    const file = path.join(root, bin);
    expect(existsSync(file), `${bin} exists`).toBe(true);
    expect(readFileSync(file, 'utf8').startsWith('#!/usr/bin/env node')).toBe(true);
  });

  it('pins every runtime dependency to an exact version', () => {
    const loose = Object.entries<string>(pkg.dependencies ?? {}).filter(([, v]) => !/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/.test(v));
    expect(loose, 'dependencies with a range instead of an exact version').toEqual([]);
  });

  it('agrees with package-lock.json on the runtime dependencies', () => {
    const lock = readJson('package-lock.json');
    expect(lock.packages?.['']?.dependencies ?? {}).toEqual(pkg.dependencies ?? {});
  });
});

describe('tests', () => {
  // The conformance corpora sit beside the repository, which CI and users do not have: tests must use
  // copies under test/fixtures/. Inside the repo there is also a `shared/` folder, which is fine.
  const outside = path.resolve(root, '..');
  const sourceFile = /\.(c|m)?(t|j)sx?$/;

  it('never read files outside the repository', () => {
    const offending: string[] = [];
    for (const file of walk(path.join(root, 'test')).filter((f) => sourceFile.test(f))) {
      const text = readFileSync(file, 'utf8');
      for (const match of text.matchAll(/(['"`])((?:\\.|(?!\1)[^\\\n])*)\1/g)) {
        const literal = match[2]!;
        let target: string | undefined;
        if (literal.startsWith('./') || literal.startsWith('../')) target = path.resolve(path.dirname(file), literal);
        else if (literal.startsWith(outside + path.sep)) target = literal;
        if (target !== undefined && path.relative(root, target).startsWith('..')) {
          offending.push(`${path.relative(root, file)}: ${literal}`);
        }
      }
    }
    expect(offending).toEqual([]);
  });
});

describe('infra', () => {
  it('has every file main.bicep (and the modules it uses) refers to', () => {
    const missing: string[] = [];
    const seen = new Set<string>();
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      const text = readFileSync(file, 'utf8');
      const references = [
        ...[...text.matchAll(/^\s*module\s+\w+\s+'([^']+)'/gm)].map((m) => m[1]!),
        ...[...text.matchAll(/\bload(?:Json|Text|Yaml|FileAsBase64)Content\(\s*'([^']+)'/g)].map((m) => m[1]!),
      ].filter((ref) => !/^(br|ts)[:/]/.test(ref)); // registry modules and template specs are remote
      for (const ref of references) {
        const target = path.resolve(path.dirname(file), ref);
        if (!existsSync(target)) missing.push(`${path.relative(root, file)} -> ${ref}`);
        else if (target.endsWith('.bicep')) visit(target);
      }
    };
    visit(path.join(root, 'infra', 'main.bicep'));
    expect(missing).toEqual([]);
    expect(seen.size).toBeGreaterThan(1);
  });

  it('gives the lake storage account blob and container soft delete for 7 days', () => {
    const main = readText('infra/main.bicep');
    const lake = /^module lakeStorage '([^']+)' = \{\n([^]*?)\n\}/m.exec(main);
    expect(lake, 'module lakeStorage in infra/main.bicep').not.toBeNull();
    expect(lake![2], 'lakeStorage params').toMatch(/^\s*softDeleteRetentionDays: 7$/m);
    expect(lake![2], 'lakeStorage params').toMatch(/^\s*isHnsEnabled: true$/m);
    const moduleFile = path.join('infra', lake![1]!);
    const account = readText(moduleFile);
    expect(account, `${moduleFile}: the parameter`).toMatch(/^param softDeleteRetentionDays int = 0$/m);
    const service = /^resource \w+ 'Microsoft\.Storage\/storageAccounts\/blobServices@[^']+' = \{\n([^]*?)\n\}/m.exec(account);
    expect(service, `${moduleFile}: the blob service`).not.toBeNull();
    // Each policy, followed through a variable, turns on with the parameter's days.
    for (const policy of ['deleteRetentionPolicy', 'containerDeleteRetentionPolicy']) {
      let value = new RegExp(`^\\s*${policy}: (.+)$`, 'm').exec(service![1]!)?.[1];
      expect(value, `${moduleFile}: blobServices ${policy}`).toBeDefined();
      value = new RegExp(`^var ${value} = (.+)$`, 'm').exec(account)?.[1] ?? value;
      expect(value, `${moduleFile}: ${policy}`).toMatch(/\{ enabled: true, days: softDeleteRetentionDays \}/);
    }
  });

  it('points azure.yaml at infra/ and deploys the app as the service main.bicep tags', () => {
    const azureYaml = readText('azure.yaml');
    expect(azureYaml).toMatch(/^infra:\n(?:\s+.*\n)*?\s+path: infra\s*$/m);
    const service = /^ {2}(\w[\w-]*):.*\n(?: {4}.*\n)*? {4}host: function\s*$/m.exec(azureYaml)?.[1];
    expect(service, 'a service with host: function').toBeDefined();
    expect(readText('infra/main.bicep')).toMatch(new RegExp(`^var serviceName = '${service}'`, 'm'));
  });

  it('keeps every optional platform build in package-lock.json, so npm ci accepts it', () => {
    // Our registry serves only this platform's builds; `npm install` then drops the others from the lock
    // and `npm ci` fails. scripts/complete-lockfile.js puts them back.
    const lock = JSON.parse(readText('package-lock.json')) as { packages: Record<string, { optionalDependencies?: Record<string, string> }> };
    const missing: string[] = [];
    for (const [key, entry] of Object.entries(lock.packages)) {
      for (const name of Object.keys(entry.optionalDependencies ?? {})) {
        if (!lock.packages[`node_modules/${name}`] && !lock.packages[`${key}/node_modules/${name}`])
          missing.push(`${name} (optional dependency of ${key || 'the root'})`);
      }
    }
    expect(missing, 'run: node scripts/complete-lockfile.js').toEqual([]);
  });
});

describe('infra: the backup account', () => {
  const main = readText('infra/main.bicep');
  const module = /^module backupStorage '([^']+)' = \{\n([^]*?)\n\}/m.exec(main);

  it('is its own storage account, optionally in another region and immutable, written by the app identity', () => {
    expect(module, 'module backupStorage in infra/main.bicep').not.toBeNull();
    expect(module![1]).toBe('app/backup-storage.bicep');
    const params = module![2]!;
    expect(params).toMatch(/^\s*identityPrincipalId: identity\.outputs\.principalId$/m);
    expect(params).toMatch(/^\s*immutabilityDays: backupImmutabilityDays$/m);
    expect(params).toMatch(/^\s*location: !empty\(backupRegion\) \? backupRegion : location$/m);
    expect(main).toMatch(/^param backupRegion string = ''$/m);
    expect(main).toMatch(/^param backupImmutabilityDays int = 0$/m);
    const account = readText('infra/app/backup-storage.bicep');
    expect(account).toMatch(/^module account '\.\.\/core\/storage\/storage-account\.bicep'/m);
    expect(account, 'not the lake account: no hierarchical namespace').not.toMatch(/isHnsEnabled: true/);
  });

  it('grants Storage Blob Data Contributor to the app identity and to nobody else', () => {
    const access = readText('infra/app/backup-access.bicep');
    const assignments = [...access.matchAll(/^resource \w+ 'Microsoft\.Authorization\/roleAssignments@[^']+' = (.*)\{\n([^]*?)\n\}/gm)];
    expect(assignments).toHaveLength(1);
    expect(assignments[0]![1], 'an unconditional, single assignment').toBe('');
    expect(assignments[0]![2]).toMatch(/^\s*principalId: identityPrincipalId$/m);
    expect(access).toMatch(/^var storageBlobDataContributor = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'$/m);
    expect(assignments[0]![2]).toMatch(/roleDefinitions', storageBlobDataContributor\)/);
    // No other file grants a role on it: nothing else is handed the backup account.
    for (const file of walk(path.join(root, 'infra')).filter((f) => f.endsWith('.bicep') && !/backup-(access|storage)\.bicep$/.test(f))) {
      const text = readFileSync(file, 'utf8');
      expect(text, path.relative(root, file)).not.toMatch(/backupStorage\.outputs\.name/);
    }
    expect(readText('infra/app/backup-storage.bicep')).not.toMatch(/roleAssignments/);
    expect(main.match(/stbak/g), 'the account name appears once, in module backupStorage').toHaveLength(1);
  });

  it('puts the immutability policy behind its parameter', () => {
    const access = readText('infra/app/backup-access.bicep');
    expect(access).toMatch(
      /containers\/immutabilityPolicies@[^']+' = if \(immutabilityDays > 0\) \{\n[^]*?immutabilityPeriodSinceCreationInDays: immutabilityDays/,
    );
  });

  it('sets every backup setting the app reads as an app setting, the location from the backup account', () => {
    const settingsDoc = readText('shared/host/settings.ts');
    const names = [...new Set([...settingsDoc.matchAll(/\| `(SLUICE_BACKUP_[A-Z_]+)` \|/g)].map((m) => m[1]!))];
    expect(names.sort()).toEqual([
      'SLUICE_BACKUP_COPY_CONCURRENCY',
      'SLUICE_BACKUP_LOCATION',
      'SLUICE_BACKUP_MIN_VERSIONS',
      'SLUICE_BACKUP_RETENTION_DAYS',
      'SLUICE_BACKUP_SCHEDULE',
      'SLUICE_BACKUP_TABLE_CONCURRENCY',
    ]);
    const app = readText('infra/app/function-app.bicep');
    for (const name of names) expect(app, `app setting ${name}`).toMatch(new RegExp(`^\\s*${name}: `, 'm'));
    const functionApp = /^module functionApp '[^']+' = \{\n([^]*?)\n\}/m.exec(main)![1]!;
    expect(functionApp).toMatch(/^\s*backupLocation: backupStorage\.outputs\.location$/m);
  });
});
