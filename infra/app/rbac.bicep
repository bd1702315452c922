// Every role the app's identity (and, optionally, the developer running azd) needs, granted by
// built-in role definition ID on the narrowest resource that works. Assignment names are
// deterministic (guid of scope, principal, role) so re-deploying is a no-op.

@description('Principal (object) ID of the user-assigned identity the function app runs as.')
param identityPrincipalId string
@description('Object ID of the developer running azd (AZURE_PRINCIPAL_ID); empty to skip developer access.')
param userPrincipalId string = ''

param hostStorageName string
param lakeStorageName string
param eventHubNamespaceName string
param eventHubName string
param applicationInsightsName string

// Built-in role definition IDs (same in every tenant).
var roles = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  eventHubsDataReceiver: 'a638d3c7-ab3a-418d-83e6-5f17a39d4fde'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
}

// Host storage: deployment package, timer and Event Hubs checkpoint blobs and leases (blob), Durable
// control and work-item queues (queue), Durable history and instances (table).
var hostStorageRoles = [
  roles.storageBlobDataOwner
  roles.storageQueueDataContributor
  roles.storageTableDataContributor
]
// Lake storage: landing files and Delta tables (blob; Owner because vacuum deletes and tiering sets
// tiers), Sluice ledger/catalog/metrics tables (table).
var lakeRoles = [
  roles.storageBlobDataOwner
  roles.storageTableDataContributor
]

resource hostStorage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: hostStorageName
}

resource lakeStorage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: lakeStorageName
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

resource appOnHostStorage 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for roleId in hostStorageRoles: {
    name: guid(hostStorage.id, identityPrincipalId, roleId)
    scope: hostStorage
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
      principalId: identityPrincipalId
      principalType: 'ServicePrincipal'
    }
  }
]

resource appOnLakeStorage 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for roleId in lakeRoles: {
    name: guid(lakeStorage.id, identityPrincipalId, roleId)
    scope: lakeStorage
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
      principalId: identityPrincipalId
      principalType: 'ServicePrincipal'
    }
  }
]

resource appOnEventHub 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(eventHub.id, identityPrincipalId, roles.eventHubsDataReceiver)
  scope: eventHub
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.eventHubsDataReceiver)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource appOnApplicationInsights 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(applicationInsights.id, identityPrincipalId, roles.monitoringMetricsPublisher)
  scope: applicationInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// The developer gets the lake roles too, so the `sluice` CLI can read and maintain the cloud lake.
resource userOnLakeStorage 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for roleId in lakeRoles: if (!empty(userPrincipalId)) {
    name: guid(lakeStorage.id, userPrincipalId, roleId)
    scope: lakeStorage
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
      principalId: userPrincipalId
      principalType: 'User'
    }
  }
]
