// Every role the app's identity (and, optionally, the principal running azd) needs, each a built-in
// role granted on the narrowest resource that works. Assignment names are deterministic (guid of
// scope, principal, role), so re-deploying is a no-op.
//
// test/deploy/roles.test.ts reads this file: it checks each grant against what the code and the
// Functions host do with that resource, and that no broader role or scope creeps in. Keep one
// assignment per resource block, with `scope:` naming one of the `existing` resources below.

@description('Principal (object) ID of the user-assigned identity the function app runs as.')
param identityPrincipalId string
@description('Object ID of the principal running azd (AZURE_PRINCIPAL_ID): a developer, or the CI service principal. Empty to skip.')
param userPrincipalId string = ''
@allowed(['User', 'ServicePrincipal', 'Group'])
@description('Kind of principal userPrincipalId is (ServicePrincipal in CI).')
param userPrincipalType string = 'User'

param hostStorageName string
param lakeStorageName string
param lakeContainerName string
param landingContainerName string
param eventHubNamespaceName string
param eventHubName string
param applicationInsightsName string
param keyVaultName string
@description('Storage account backups are written to; empty when the deployment has none. The app gets write there, nothing else does.')
param backupStorageName string = ''

// Built-in role definition IDs (the same in every tenant).
var roles = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  eventHubsDataReceiver: 'a638d3c7-ab3a-418d-83e6-5f17a39d4fde'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
}

resource hostStorage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: hostStorageName
}

resource lakeStorage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: lakeStorageName
}

resource lakeBlobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' existing = {
  parent: lakeStorage
  name: 'default'
}

resource lakeContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = {
  parent: lakeBlobService
  name: lakeContainerName
}

resource landingContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = {
  parent: lakeBlobService
  name: landingContainerName
}

resource backupStorage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = if (!empty(backupStorageName)) {
  name: empty(backupStorageName) ? 'unused' : backupStorageName
}

resource eventHubNamespace 'Microsoft.EventHub/namespaces@2024-01-01' existing = {
  name: eventHubNamespaceName
}

resource eventHub 'Microsoft.EventHub/namespaces/eventhubs@2024-01-01' existing = {
  parent: eventHubNamespace
  name: eventHubName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource keyVault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

// ---- The app's identity -------------------------------------------------------------------------

// Host storage (AzureWebJobsStorage), as the Functions templates grant it: the host keeps timer and
// Event Hubs checkpoint blobs and leases and reads the deployment package (blob; the host's
// identity-based connection asks for Owner), Durable keeps its control and work-item queues (queue)
// and its history and instance tables (table).
resource appHostBlob 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(hostStorage.id, identityPrincipalId, roles.storageBlobDataOwner)
  scope: hostStorage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataOwner)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource appHostQueue 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(hostStorage.id, identityPrincipalId, roles.storageQueueDataContributor)
  scope: hostStorage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataContributor)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource appHostTable 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(hostStorage.id, identityPrincipalId, roles.storageTableDataContributor)
  scope: hostStorage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageTableDataContributor)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// The lake container: Delta tables and _sluice/ records are written, and vacuum deletes. Contributor,
// not Owner: Sluice never sets ACLs or owners on the hierarchical namespace.
resource appLakeContainer 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(lakeContainer.id, identityPrincipalId, roles.storageBlobDataContributor)
  scope: lakeContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// The landing container: ingestion lists and reads files; the landing-retention policy of storage
// tiering moves committed or dead-lettered files to cooler tiers or deletes them after N days.
resource appLandingContainer 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(landingContainer.id, identityPrincipalId, roles.storageBlobDataContributor)
  scope: landingContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Sluice's own tables on the lake account (ingestion ledger, event log, catalog, metrics), created on
// first use, hence the account rather than single tables.
resource appLakeTables 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(lakeStorage.id, identityPrincipalId, roles.storageTableDataContributor)
  scope: lakeStorage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageTableDataContributor)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Backups: copies are written (server-side, from the lake), verified, and pruned by retention.
resource appBackup 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(backupStorageName)) {
  name: guid(backupStorage.id, identityPrincipalId, roles.storageBlobDataContributor)
  scope: backupStorage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// The hub the eventHubIngest trigger reads (checkpoints live in host storage, not here).
resource appEventHub 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(eventHub.id, identityPrincipalId, roles.eventHubsDataReceiver)
  scope: eventHub
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.eventHubsDataReceiver)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Telemetry sent with an Entra ID token (Application Insights has local auth off).
resource appTelemetry 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(applicationInsights.id, identityPrincipalId, roles.monitoringMetricsPublisher)
  scope: applicationInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// The platform resolves the SLUICE_PII_KEY Key Vault reference with the app's identity: read only.
resource appSecrets 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(keyVault.id, identityPrincipalId, roles.keyVaultSecretsUser)
  scope: keyVault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsUser)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// ---- The principal running azd --------------------------------------------------------------------
// The `sluice` CLI reads and maintains the cloud lake with the developer's credential, and the CI
// smoke test drops a landing file and reads bronze, so they get the app's lake grants. They also read
// the PII key back: azd's secretOrRandomPassword (main.parameters.json) keeps the vault's key on the
// next provision instead of generating a new one.

resource userLakeContainer 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(userPrincipalId)) {
  name: guid(lakeContainer.id, userPrincipalId, roles.storageBlobDataContributor)
  scope: lakeContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
    principalId: userPrincipalId
    principalType: userPrincipalType
  }
}

resource userLandingContainer 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(userPrincipalId)) {
  name: guid(landingContainer.id, userPrincipalId, roles.storageBlobDataContributor)
  scope: landingContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
    principalId: userPrincipalId
    principalType: userPrincipalType
  }
}

resource userLakeTables 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(userPrincipalId)) {
  name: guid(lakeStorage.id, userPrincipalId, roles.storageTableDataContributor)
  scope: lakeStorage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageTableDataContributor)
    principalId: userPrincipalId
    principalType: userPrincipalType
  }
}

resource userSecrets 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(userPrincipalId)) {
  name: guid(keyVault.id, userPrincipalId, roles.keyVaultSecretsUser)
  scope: keyVault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsUser)
    principalId: userPrincipalId
    principalType: userPrincipalType
  }
}
