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
const appSettings = objectEntries(functionApp.find((d) => d.type === 'Microsoft.Web/sites/config')!.body, 'properties');

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
