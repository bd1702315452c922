// Key Vault in RBAC mode (no access policies) holding the app's one secret, the HMAC key of
// `pii: hash` columns (SLUICE_PII_KEY). The app setting references it
// (@Microsoft.KeyVault(SecretUri=...)), so the key never appears in app settings, templates or logs.
//
// How the key is generated once and then kept: main.parameters.json passes
// `$(secretOrRandomPassword ${AZURE_KEY_VAULT_NAME} sluice-pii-key)`, which azd resolves before each
// provision by reading the secret back from this vault, or, when the vault or the secret does not exist
// yet, by generating a random 15-character password. A generated value is shorter than the 16
// characters the app requires, so it is extended with `piiKeyEntropy` (main.bicep: a newGuid() default,
// new on every deployment but only used on that first one). From then on azd reads back the stored
// key (at least 16 characters), and it is written unchanged. See README "Deploying" for rotation.

param name string
param location string
param tags object = {}

@secure()
@description('The key as azd resolved it: the vault\'s current key, or a freshly generated password.')
param piiKey string
@secure()
@description('Random text appended to a freshly generated (short) key; unused once the vault holds a key.')
param piiKeyEntropy string
param piiKeySecretName string = 'sluice-pii-key'

@description('Public network access of the vault. The key is read by the platform with the app\'s identity and by azd with the deployer\'s, so it stays reachable; RBAC decides who may read it.')
@allowed(['Enabled', 'Disabled'])
param publicNetworkAccess string = 'Enabled'

// The app refuses a key shorter than this (shared/refresh/pii.ts).
var minimumKeyLength = 16

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    // A lost key cannot be recreated, and without it new rows hash differently from stored ones:
    // a deleted vault or secret stays recoverable for 90 days (azd down --purge removes it at once).
    softDeleteRetentionInDays: 90
    publicNetworkAccess: publicNetworkAccess
  }
}

resource piiKeySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: piiKeySecretName
  properties: {
    value: length(piiKey) >= minimumKeyLength ? piiKey : '${piiKey}${replace(piiKeyEntropy, '-', '')}'
    contentType: 'HMAC key of pii: hash columns (SLUICE_PII_KEY)'
  }
}

output name string = vault.name
output id string = vault.id
// Versionless: the app follows the newest version of the secret (rotation needs no redeployment).
output piiKeySecretUri string = '${vault.properties.vaultUri}secrets/${piiKeySecret.name}'
