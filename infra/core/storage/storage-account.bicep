// A StorageV2 account reachable only with Entra ID tokens (no shared keys, no public blobs), plus the
// blob containers named in `containers`. `isHnsEnabled` turns on the hierarchical namespace (ADLS Gen2).

param name string
param location string
param tags object = {}
@description('Hierarchical namespace (ADLS Gen2). Cannot be changed after the account is created.')
param isHnsEnabled bool = false
@description('Names of the blob containers to create.')
param containers array = []
param skuName string = 'Standard_LRS'
@description('Days a deleted blob or container can be restored (blob and container soft delete); 0 turns both off.')
@minValue(0)
@maxValue(365)
param softDeleteRetentionDays int = 0
@description('Network option: refuse public traffic except from trusted Azure services; the app reaches the account through private endpoints (app/network.bicep).')
param privateNetworking bool = false

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: skuName
  }
  properties: {
    accessTier: 'Hot'
    isHnsEnabled: isHnsEnabled
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    // Left 'Enabled' even with private networking: the firewall below then still lets trusted Azure
    // services in (Event Grid writing dead letters with its identity), which 'Disabled' would not.
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: privateNetworking ? 'Deny' : 'Allow'
    }
  }
}

var softDelete = softDeleteRetentionDays > 0 ? { enabled: true, days: softDeleteRetentionDays } : { enabled: false }

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
  properties: {
    deleteRetentionPolicy: softDelete
    containerDeleteRetentionPolicy: softDelete
  }
}

resource blobContainers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = [
  for container in containers: {
    parent: blobService
    name: container
    properties: {
      publicAccess: 'None'
    }
  }
]

output id string = storage.id
output name string = storage.name
output blobEndpoint string = storage.properties.primaryEndpoints.blob
output tableEndpoint string = storage.properties.primaryEndpoints.table
output queueEndpoint string = storage.properties.primaryEndpoints.queue
