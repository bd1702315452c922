/**
 * Least privilege, checked from both sides: every role infra/app/rbac.bicep grants the app's identity
 * is the smallest built-in role covering what the code (or the Functions host) does with that
 * resource, on the narrowest scope, and every resource the app connects to with its identity has a
 * grant. What the code does is read from the code where it can be (which ObjectStore methods are
 * called on the landing and lake stores, which tables are created, which triggers exist); the few
 * needs that come from the platform rather than our code are stated below with their reason.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as nodePath from 'node:path';
import { describe, expect, it } from 'vitest';
import { bicepDeclarations, objectEntries, propertyOf, readRepoFile, REPO_ROOT } from '../support/bicep-text';

type Capability =
  'blob:read' | 'blob:write' | 'blob:delete' | 'blob:acl' | 'queue:readwrite' | 'table:readwrite' | 'eventhubs:receive' | 'telemetry:publish' | 'secrets:read';

/** What each built-in role the Bicep may use allows (from the built-in role definitions' data actions). */
const ROLE_CAPABILITIES: Record<string, Capability[]> = {
  storageBlobDataReader: ['blob:read'],
  storageBlobDataContributor: ['blob:read', 'blob:write', 'blob:delete'],
  storageBlobDataOwner: ['blob:read', 'blob:write', 'blob:delete', 'blob:acl'],
  storageQueueDataContributor: ['queue:readwrite'],
  storageTableDataContributor: ['table:readwrite'],
  eventHubsDataReceiver: ['eventhubs:receive'],
  monitoringMetricsPublisher: ['telemetry:publish'],
  keyVaultSecretsUser: ['secrets:read'],
};

/** For each service, its roles from least to most powerful: the least one covering the needs is the one to grant. */
const LADDERS: string[][] = [
  ['storageBlobDataReader', 'storageBlobDataContributor', 'storageBlobDataOwner'],
  ['storageQueueDataContributor'],
  ['storageTableDataContributor'],
  ['eventHubsDataReceiver'],
  ['monitoringMetricsPublisher'],
  ['keyVaultSecretsUser'],
];

/** Built-in role definition IDs, to check the Bicep's `roles` table against. */
const ROLE_IDS: Record<string, string> = {
  storageBlobDataReader: '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1',
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe',
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b',
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88',
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3',
  eventHubsDataReceiver: 'a638d3c7-ab3a-418d-83e6-5f17a39d4fde',
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb',
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6',
};

/** ObjectStore methods and the blob permission each needs. */
const STORE_METHOD_CAPABILITY: Record<string, Capability> = {
  read: 'blob:read',
  list: 'blob:read',
  properties: 'blob:read',
  write: 'blob:write',
  createIfAbsent: 'blob:write',
  copy: 'blob:write',
  setAccessTier: 'blob:write',
  delete: 'blob:delete',
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = nodePath.join(dir, name);
    return statSync(full).isDirectory() ? sourceFiles(full) : full.endsWith('.ts') ? [full] : [];
  });
}

/** The app's code (what runs in the function app): shared/ and functions/, storage backends excluded. */
const APP_CODE = ['shared', 'functions']
  .flatMap((d) => sourceFiles(nodePath.join(REPO_ROOT, d)))
  .filter((f) => !f.includes(`${nodePath.sep}storage${nodePath.sep}`))
  .map((f) => ({ file: nodePath.relative(REPO_ROOT, f), text: readFileSync(f, 'utf8') }));

/** Blob permissions the code uses through ObjectStore variables whose name matches `variable`. */
function storeCapabilities(variable: RegExp): { needs: Set<Capability>; evidence: string[] } {
  const needs = new Set<Capability>();
  const evidence: string[] = [];
  for (const { file, text } of APP_CODE) {
    for (const m of text.matchAll(new RegExp(`\\b(${variable.source})\\??\\.(\\w+)\\(`, 'g'))) {
      const capability = STORE_METHOD_CAPABILITY[m[2]!];
      if (!capability) continue;
      needs.add(capability);
      evidence.push(`${file}: ${m[1]}.${m[2]}()`);
    }
  }
  return { needs, evidence };
}

function codeMentions(pattern: RegExp): string[] {
  return APP_CODE.filter(({ text }) => pattern.test(text)).map(({ file }) => file);
}

const rbac = readRepoFile('infra/app/rbac.bicep');
const declarations = bicepDeclarations(rbac);
const functionApp = readRepoFile('infra/app/function-app.bicep');
const appSettings = objectEntries(
  bicepDeclarations(functionApp).find((d) => d.type === 'Microsoft.Web/sites/config' && propertyOf(d.body, 'name') === "'appsettings'")!.body,
  'properties',
);
const main = readRepoFile('infra/main.bicep');

/** The Bicep's `roles` table: name → role definition ID. */
const bicepRoles = new Map([.../^var roles = \{\n([^]*?)\n\}/m.exec(rbac)![1]!.matchAll(/^\s+(\w+): '([0-9a-f-]+)'/gm)].map((m) => [m[1]!, m[2]!]));

interface Grant {
  symbol: string;
  role: string;
  /** The `existing` resource the grant is scoped to. */
  scope: string;
  principal: string;
  principalType: string;
  condition?: string;
}

const grants: Grant[] = declarations
  .filter((d) => d.type === 'Microsoft.Authorization/roleAssignments')
  .map((d) => ({
    symbol: d.symbol,
    role: /roles\.(\w+)\)/.exec(propertyOf(d.body, 'roleDefinitionId', 4) ?? '')?.[1] ?? '(unknown)',
    scope: propertyOf(d.body, 'scope') ?? '(none)',
    principal: propertyOf(d.body, 'principalId', 4) ?? '(none)',
    principalType: propertyOf(d.body, 'principalType', 4) ?? '(none)',
    ...(d.condition ? { condition: d.condition } : {}),
  }));

const existing = new Map(declarations.filter((d) => d.existing).map((d) => [d.symbol, d]));

/** A readable name of an `existing` resource: its type's last segment and the parameter naming it. */
function describeScope(symbol: string): string {
  const resource = existing.get(symbol);
  if (!resource) return `${symbol} (not an existing resource of rbac.bicep)`;
  const name = propertyOf(resource.body, 'name') ?? '?';
  const parameter = /(\w+Name)\b/.exec(name)?.[1] ?? name;
  return `${resource.type.split('/').pop()} ${parameter}`;
}

/** What the app's identity needs, resource by resource, and why. */
interface Need {
  /** `existing` resource of rbac.bicep the grant belongs on. */
  scope: string;
  needs: Set<Capability>;
  /** Where the code shows each need (or the platform's reason); an empty list fails the test. */
  evidence: string[];
}

function appNeeds(): Need[] {
  const landing = storeCapabilities(/landing/);
  // Landing retention (storage tiering): committed or dead-lettered landing files go to cooler tiers or
  // are deleted after N days. Granted ahead of the policy's code, which runs with this identity.
  landing.needs.add('blob:write').add('blob:delete');
  landing.evidence.push('landing retention of storage tiering: setAccessTier and delete of landing files');

  // The Delta layer writes through `store` (commits, data files, checkpoints) and vacuum deletes.
  const lake = storeCapabilities(/store/);

  const tableCode = codeMentions(/\b(openLakeTables|tableCreation|createTableIfMissing)\b/);
  const hostJson = JSON.parse(readRepoFile('host.json'));
  const durableOnHostStorage =
    hostJson.extensions?.durableTask?.storageProvider?.type === 'AzureStorage' &&
    (hostJson.extensions.durableTask.storageProvider.connectionName ?? 'AzureWebJobsStorage') === 'AzureWebJobsStorage';
  const definitions = readRepoFile('functions/definitions.ts');

  const needs: Need[] = [
    {
      scope: 'hostStorage',
      // The host's identity-based AzureWebJobsStorage connection asks for Blob Data Owner (the Functions
      // docs and templates grant it); Durable's task hub is queues and tables there.
      needs: new Set<Capability>([
        'blob:read',
        'blob:write',
        'blob:delete',
        'blob:acl',
        ...(durableOnHostStorage ? (['queue:readwrite', 'table:readwrite'] as const) : []),
      ]),
      evidence: [
        ...(appSettings.get('AzureWebJobsStorage__accountName') === 'hostStorageName' ? ['AzureWebJobsStorage__accountName is the host account'] : []),
        ...(durableOnHostStorage ? ['host.json: Durable task hub in AzureWebJobsStorage'] : []),
      ],
    },
    { scope: 'lakeContainer', ...lake },
    { scope: 'landingContainer', ...landing },
    {
      scope: 'lakeStorage',
      needs: new Set<Capability>(tableCode.length ? ['table:readwrite'] : []),
      evidence: tableCode.map((f) => `${f}: Sluice tables on the lake account`),
    },
    {
      scope: 'eventHub',
      needs: new Set<Capability>(['eventhubs:receive']),
      evidence: /kind: 'eventHub',[^]*?connection: 'SLUICE_EVENTHUB'/.test(definitions)
        ? ['functions/definitions.ts: eventHubIngest reads SLUICE_EVENTHUB']
        : [],
    },
    {
      scope: 'applicationInsights',
      needs: new Set<Capability>(['telemetry:publish']),
      evidence: /Authorization=AAD/.test(appSettings.get('APPLICATIONINSIGHTS_AUTHENTICATION_STRING') ?? '')
        ? ['telemetry is sent with an Entra ID token']
        : [],
    },
    {
      scope: 'keyVault',
      needs: new Set<Capability>(['secrets:read']),
      evidence: [...appSettings].filter(([, v]) => v.includes('@Microsoft.KeyVault(')).map(([k]) => `app setting ${k} is a Key Vault reference`),
    },
  ];
  if (existing.has('backupStorage')) {
    needs.push({
      scope: 'backupStorage',
      needs: new Set<Capability>(['blob:read', 'blob:write', 'blob:delete']),
      evidence: ['backups are written, verified and pruned by retention'],
    });
  }
  return needs;
}

/** The least roles covering `needs`: per service, the first role of its ladder that covers that service's needs. */
function leastRoles(needs: Set<Capability>): string[] {
  const out: string[] = [];
  for (const ladder of LADDERS) {
    const service = new Set(ladder.flatMap((r) => ROLE_CAPABILITIES[r]!));
    const wanted = [...needs].filter((c) => service.has(c));
    if (!wanted.length) continue;
    const role = ladder.find((r) => wanted.every((c) => ROLE_CAPABILITIES[r]!.includes(c)));
    out.push(role ?? `(no role of ${ladder.join('/')} covers ${wanted.join(', ')})`);
  }
  return out.sort();
}

describe('infra/app/rbac.bicep: the app identity has the least roles the code needs', () => {
  const appGrants = grants.filter((g) => g.principal === 'identityPrincipalId');

  it('uses the built-in role definition IDs', () => {
    for (const [name, id] of bicepRoles) expect(ROLE_IDS[name], `roles.${name}`).toBe(id);
    expect(grants.filter((g) => !bicepRoles.has(g.role)).map((g) => g.symbol)).toEqual([]);
  });

  it('grants, on each resource, exactly the least roles covering what the code does there', () => {
    const needs = appNeeds();
    for (const need of needs) {
      expect(need.evidence, `why the app needs ${describeScope(need.scope)}`).not.toEqual([]);
      const granted = appGrants
        .filter((g) => g.scope === need.scope)
        .map((g) => g.role)
        .sort();
      expect(granted, `${describeScope(need.scope)} (needs ${[...need.needs].join(', ')}; ${need.evidence.slice(0, 3).join('; ')})`).toEqual(
        leastRoles(need.needs),
      );
    }
    // No grant on a resource nobody showed a need for.
    const needed = new Set(needs.map((n) => n.scope));
    expect(appGrants.filter((g) => !needed.has(g.scope)).map((g) => `${g.symbol} on ${describeScope(g.scope)}`)).toEqual([]);
  });

  it('grants blob roles on the lake account only per container, and Owner only on host storage', () => {
    const lakeBlob = appGrants.filter((g) => g.scope === 'lakeStorage' && g.role.startsWith('storageBlob'));
    expect(lakeBlob.map((g) => g.symbol)).toEqual([]);
    for (const symbol of ['lakeContainer', 'landingContainer']) {
      expect(existing.get(symbol)?.type, symbol).toBe('Microsoft.Storage/storageAccounts/blobServices/containers');
    }
    const owners = grants.filter((g) => g.role === 'storageBlobDataOwner').map((g) => g.scope);
    expect([...new Set(owners)]).toEqual(['hostStorage']);
  });

  it('the lake needs write and delete but never ACLs or owners: no Data Lake SDK, no permission calls', () => {
    const lake = storeCapabilities(/store/);
    expect([...lake.needs].sort()).toEqual(['blob:delete', 'blob:read', 'blob:write']);
    expect(codeMentions(/@azure\/storage-file-datalake|setAccessControl|setPermissions|changeOwner/)).toEqual([]);
  });

  it('ingestion reads the landing container through the store the runtime opens on it', () => {
    const landing = storeCapabilities(/landing/);
    expect(landing.needs.has('blob:read')).toBe(true);
    expect(codeMentions(/openContainerStore\([^)]*landingContainer/)).not.toEqual([]);
  });

  it("marks every grant to the identity as a service principal and conditions the deployer's on an ID", () => {
    expect(appGrants.filter((g) => g.principalType !== "'ServicePrincipal'").map((g) => g.symbol)).toEqual([]);
    const userGrants = grants.filter((g) => g.principal === 'userPrincipalId');
    expect(userGrants.length).toBeGreaterThan(0);
    for (const g of userGrants) {
      expect(g.condition, g.symbol).toBe('!empty(userPrincipalId)');
      expect(g.principalType, g.symbol).toBe('userPrincipalType');
      expect(g.role, `${g.symbol}: the deployer gets no Owner`).not.toBe('storageBlobDataOwner');
    }
    expect(grants.filter((g) => g.principal !== 'identityPrincipalId' && g.principal !== 'userPrincipalId')).toEqual([]);
  });

  it('grants something on every resource the app reaches with its identity (per the app settings)', () => {
    // An identity-based connection `X__credential: 'managedidentity'` names its resource through a
    // function-app parameter; main.bicep fills that parameter and rbac.bicep's from the same module.
    const functionAppModule = /^module functionApp '[^']+' = \{\n([^]*?)\n\}/m.exec(main)![1]!;
    const rbacModule = /^module rbac '[^']+' = \{\n([^]*?)\n\}/m.exec(main)![1]!;
    const sourceModule = (moduleBody: string, param: string) => new RegExp(`^\\s+${param}: (\\w+)\\.outputs\\.`, 'm').exec(moduleBody)?.[1];
    const connections = [...appSettings]
      .filter(([k, v]) => k.endsWith('__credential') && v === "'managedidentity'")
      .map(([k]) => k.slice(0, -'__credential'.length));
    expect(connections.sort()).toEqual(['AzureWebJobsStorage', 'SLUICE_EVENTHUB', 'SLUICE_LAKE']);
    const scopesWithGrants = new Set(appGrants.map((g) => g.scope));
    for (const connection of connections) {
      const target = appSettings.get(`${connection}__accountName`) ?? appSettings.get(`${connection}__fullyQualifiedNamespace`);
      expect(target, `${connection}__accountName or __fullyQualifiedNamespace`).toBeDefined();
      const module = sourceModule(functionAppModule, target!);
      expect(module, `main.bicep functionApp ${target}`).toBeDefined();
      // rbac.bicep parameters fed from the same module, and the existing resources named by them.
      const rbacParams = [...rbacModule.matchAll(new RegExp(`^\\s+(\\w+): ${module}\\.outputs\\.`, 'gm'))].map((m) => m[1]!);
      const reached = [...existing.values()].filter((d) => rbacParams.some((p) => (propertyOf(d.body, 'name') ?? '').includes(p)));
      const reachedOrBelow = new Set(reached.map((d) => d.symbol));
      for (const d of existing.values()) if (reachedOrBelow.has(/^(\w+)$/.exec(propertyOf(d.body, 'parent') ?? '')?.[1] ?? '')) reachedOrBelow.add(d.symbol);
      for (const d of existing.values()) if (reachedOrBelow.has(/^(\w+)$/.exec(propertyOf(d.body, 'parent') ?? '')?.[1] ?? '')) reachedOrBelow.add(d.symbol);
      expect(
        [...reachedOrBelow].filter((s) => scopesWithGrants.has(s)),
        `grants reaching ${connection} (module ${module})`,
      ).not.toEqual([]);
    }
  });
});
