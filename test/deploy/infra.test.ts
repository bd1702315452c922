/**
 * Structural checks of infra/ beyond roles and settings (no Bicep compiler or Azure here): the Key
 * Vault holding SLUICE_PII_KEY, the Event Grid subscription created within one `azd up`, the
 * network option and App Service authentication. Each names the file and declaration it reads.
 */
import { describe, expect, it } from 'vitest';
import { bicepDeclarations, bicepParams, objectEntries, propertyOf, readRepoFile } from '../support/bicep-text';

const main = readRepoFile('infra/main.bicep');
const mainParams = bicepParams(main);
const parameters = JSON.parse(readRepoFile('infra/main.parameters.json')).parameters as Record<string, { value: unknown }>;
const keyVaultFile = readRepoFile('infra/core/security/key-vault.bicep');
const functionAppFile = readRepoFile('infra/app/function-app.bicep');
const functionApp = bicepDeclarations(functionAppFile);
const site = functionApp.find((d) => d.type === 'Microsoft.Web/sites')!;
const appSettings = objectEntries(
  functionApp.find((d) => d.type === 'Microsoft.Web/sites/config' && propertyOf(d.body, 'name') === "'appsettings'")!.body,
  'properties',
);

/** The body of `module <symbol>` in main.bicep. */
function mainModule(symbol: string): string {
  const m = new RegExp(`^module ${symbol} '[^']+' = (?:if \\([^\\n]*\\) )?\\{\\n([^]*?)\\n\\}`, 'm').exec(main);
  expect(m, `module ${symbol} in infra/main.bicep`).not.toBeNull();
  return m![1]!;
}

describe('SLUICE_PII_KEY in Key Vault', () => {
  const vault = bicepDeclarations(keyVaultFile).find((d) => d.type === 'Microsoft.KeyVault/vaults')!;
  const secret = bicepDeclarations(keyVaultFile).find((d) => d.type === 'Microsoft.KeyVault/vaults/secrets')!;

  it('is a vault in RBAC mode with soft delete', () => {
    expect(vault, 'infra/core/security/key-vault.bicep vault').toBeDefined();
    expect(propertyOf(vault.body, 'enableRbacAuthorization', 4)).toBe('true');
    expect(propertyOf(vault.body, 'enableSoftDelete', 4)).toBe('true');
    expect(vault.body).not.toMatch(/accessPolicies/);
  });

  it('is generated once by azd and read back afterwards, under the name the Bicep writes', () => {
    const secretName = bicepParams(keyVaultFile).get('piiKeySecretName');
    expect(secretName).toBe("'sluice-pii-key'");
    // azd: the vault's secret when it exists, else a generated password; the vault name comes from the output below.
    expect(parameters.piiKey?.value).toBe('$(secretOrRandomPassword ${AZURE_KEY_VAULT_NAME} sluice-pii-key)');
    expect(main).toMatch(/^output AZURE_KEY_VAULT_NAME string = keyVault\.outputs\.name$/m);
    expect(mainParams.has('piiKey')).toBe(true);
    expect(main).toMatch(/@secure\(\)\n@description\([^\n]*\)\nparam piiKey string\n/);
    // A generated password (15 characters) is lengthened past the app's minimum of 16; a stored key is kept as is.
    expect(mainParams.get('piiKeyEntropy')).toBe('newGuid()');
    expect(propertyOf(secret.body, 'value', 4)).toBe("length(piiKey) >= minimumKeyLength ? piiKey : '${piiKey}${replace(piiKeyEntropy, '-', '')}'");
    expect(keyVaultFile).toMatch(/^var minimumKeyLength = 16$/m);
    expect(readRepoFile('shared/refresh/pii.ts')).toMatch(/const MIN_KEY_LENGTH = 16;/);
  });

  it('is referenced, versionless, from the app setting and resolved with the app identity', () => {
    expect(keyVaultFile).toMatch(/^output piiKeySecretUri string = '\$\{vault\.properties\.vaultUri\}secrets\/\$\{piiKeySecret\.name\}'$/m);
    expect(appSettings.get('SLUICE_PII_KEY')).toBe("'@Microsoft.KeyVault(SecretUri=${piiKeySecretUri})'");
    expect(propertyOf(site.body, 'keyVaultReferenceIdentity', 4)).toBe('identityId');
    expect(mainModule('functionApp')).toMatch(/^\s+piiKeySecretUri: keyVault\.outputs\.piiKeySecretUri$/m);
  });
});

describe('the network option', () => {
  const network = readRepoFile('infra/app/network.bicep');

  it('is a parameter, off by default, set from SLUICE_NETWORK_ISOLATION', () => {
    expect(mainParams.get('networkIsolation')).toBe('false');
    expect(parameters.networkIsolation?.value).toBe('${SLUICE_NETWORK_ISOLATION=false}');
    expect(main).toMatch(/^module network 'app\/network\.bicep' = if \(networkIsolation\) \{$/m);
  });

  it('puts both storage accounts and Event Hubs behind private endpoints, each in its DNS zone', () => {
    const zones = [...(/^var zoneNames = \[\n([^]*?)\n\]/m.exec(network)?.[1] ?? '').matchAll(/^\s+(.+)$/gm)].map((m) => m[1]!.trim());
    const endpoints = [...network.matchAll(/\{ name: '([^']+)', target: (\w+), groupId: '(\w+)', zone: (\d+) \}/g)].map((m) => ({
      name: m[1]!,
      target: m[2]!,
      groupId: m[3]!,
      zone: zones[Number(m[4])] ?? '(none)',
    }));
    expect(endpoints.map((e) => `${e.target}:${e.groupId}`).sort()).toEqual(
      [
        'eventHubNamespaceId:namespace',
        'hostStorageId:blob',
        'hostStorageId:queue',
        'hostStorageId:table',
        'lakeStorageId:blob',
        'lakeStorageId:dfs',
        'lakeStorageId:table',
      ].sort(),
    );
    for (const e of endpoints) {
      const expected = e.groupId === 'namespace' ? 'eventHubsZone' : `'privatelink.${e.groupId}.\${storageSuffix}'`;
      expect(e.zone, `${e.name}: DNS zone`).toBe(expected);
    }
    // main.bicep hands over the resources those targets name.
    const networkModule = mainModule('network');
    expect(networkModule).toMatch(/hostStorageId: hostStorage\.outputs\.id/);
    expect(networkModule).toMatch(/lakeStorageId: lakeStorage\.outputs\.id/);
    expect(networkModule).toMatch(/eventHubNamespaceId: eventHubs\.outputs\.namespaceId/);
  });

  it('closes the accounts and the namespace to public traffic when on, and puts the app on the delegated subnet', () => {
    for (const symbol of ['hostStorage', 'lakeStorage', 'eventHubs']) expect(mainModule(symbol), symbol).toMatch(/^\s+privateNetworking: networkIsolation$/m);
    expect(readRepoFile('infra/core/storage/storage-account.bicep')).toMatch(/defaultAction: privateNetworking \? 'Deny' : 'Allow'/);
    expect(readRepoFile('infra/app/eventhubs.bicep')).toMatch(/publicNetworkAccess: privateNetworking \? 'Disabled' : 'Enabled'/);
    expect(network).toMatch(
      /name: 'app'\n\s+properties: \{\n\s+addressPrefix: appSubnetPrefix\n\s+delegations: \[\n\s+\{\n\s+name: '[^']+'\n\s+properties: \{\n\s+serviceName: 'Microsoft\.App\/environments'/,
    );
    expect(propertyOf(site.body, 'virtualNetworkSubnetId', 4)).toBe('empty(appSubnetId) ? null : appSubnetId');
    expect(mainModule('functionApp')).toMatch(/^\s+appSubnetId: networkIsolation \? network\.outputs\.appSubnetId : ''$/m);
  });
});

describe('App Service authentication (Easy Auth) option', () => {
  const auth = functionApp.find((d) => d.type === 'Microsoft.Web/sites/config' && propertyOf(d.body, 'name') === "'authsettingsV2'");

  it('is off unless an app registration is named (SLUICE_EASY_AUTH_CLIENT_ID)', () => {
    expect(auth, 'authsettingsV2 in infra/app/function-app.bicep').toBeDefined();
    expect(auth!.condition).toBe('!empty(easyAuthClientId)');
    expect(bicepParams(functionAppFile).get('easyAuthClientId')).toBe("''");
    expect(mainParams.get('easyAuthClientId')).toBe("''");
    expect(parameters.easyAuthClientId?.value).toBe('${SLUICE_EASY_AUTH_CLIENT_ID}');
    expect(mainModule('functionApp')).toMatch(/^\s+easyAuthClientId: easyAuthClientId$/m);
  });

  it('signs people in with Entra ID before every route, except what Azure calls without a user', () => {
    expect(auth!.body).toMatch(/requireAuthentication: true/);
    expect(auth!.body).toMatch(/azureActiveDirectory: \{\n\s+enabled: true/);
    expect(auth!.body).toMatch(/openIdIssuer: '\$\{environment\(\)\.authentication\.loginEndpoint\}\$\{tenant\(\)\.tenantId\}\/v2\.0'/);
    const excluded = [...(/excludedPaths: \[\n([^\]]*)\]/.exec(auth!.body)?.[1] ?? '').matchAll(/'([^']+)'/g)].map((m) => m[1]!);
    expect(excluded).toContain('/api/health');
    expect(excluded.some((p) => /^\/runtime\/webhooks\/eventgrid$/i.test(p))).toBe(true);
    // Nothing else slips through: the run, table and dead-letter routes stay behind sign-in.
    expect(excluded.filter((p) => p !== '/api/health' && !/^\/runtime\/webhooks\/eventgrid$/i.test(p))).toEqual([]);
    // No client secret to store.
    expect(auth!.body).not.toMatch(/clientSecret/);
  });
});
