// The Sluice function app on the Flex Consumption plan (Linux, Node.js, deployed as a zip package in a
// blob container of the host storage account). Every connection is identity-based: the app settings
// below name accounts and endpoints, never keys.

param planName string
param appName string
param location string
param tags object = {}
@description('azd service name (azure.yaml) this app is deployed as.')
param serviceName string

@description('Resource ID and client ID of the user-assigned identity the app runs as.')
param identityId string
param identityClientId string

@description('Host storage (AzureWebJobsStorage): Durable task hub, timers, Event Hubs checkpoints, deployment package.')
param hostStorageName string
param hostBlobEndpoint string
param deploymentContainerName string

@description('Lake storage (ADLS Gen2): landing files, Delta tables, Sluice tables.')
param lakeStorageName string
param lakeBlobEndpoint string
param lakeTableEndpoint string
param lakeContainerName string
param landingContainerName string

param eventHubFullyQualifiedNamespace string
param eventHubName string
param eventHubConsumerGroup string

param applicationInsightsConnectionString string
param taskHubName string
@description('SLUICE_PIPELINES: the pipeline definition files, relative to the app root.')
param pipelines string

@allowed([512, 2048, 4096])
param instanceMemoryMB int = 2048
@description('Activities one instance runs at once (host.json maxConcurrentActivityFunctions, overridden here).')
@minValue(1)
param activityConcurrency int = 4
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 100
@allowed(['20', '22'])
param nodeVersion string = '22'

@description('SLUICE_BACKUP_LOCATION: the backup container URL (the backup storage account).')
param backupLocation string = ''
@description('SLUICE_BACKUP_SCHEDULE: NCRONTAB schedule of the backup timer.')
param backupSchedule string = '0 0 2 * * *'
@description('SLUICE_BACKUP_RETENTION_DAYS')
param backupRetentionDays int = 30
@description('SLUICE_BACKUP_MIN_VERSIONS')
param backupMinVersions int = 7

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true // Linux
  }
}

resource app 'Microsoft.Web/sites@2024-04-01' = {
  name: appName
  location: location
  tags: union(tags, { 'azd-service-name': serviceName })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    siteConfig: {
      minTlsVersion: '1.2'
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${hostBlobEndpoint}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
      }
      runtime: {
        name: 'node'
        version: nodeVersion
      }
    }
  }
}

// Flex Consumption rejects the classic runtime settings (FUNCTIONS_WORKER_RUNTIME,
// FUNCTIONS_EXTENSION_VERSION, WEBSITE_NODE_DEFAULT_VERSION, ...): the runtime comes from
// functionAppConfig above. The SLUICE_* names are the ones shared/config/settings.ts reads.
resource appSettings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: app
  name: 'appsettings'
  properties: {
    // Host storage. accountName lets the host and the Durable extension derive the blob, queue and
    // table endpoints; the identity needs blob, queue and table data roles on it (rbac.bicep).
    AzureWebJobsStorage__accountName: hostStorageName
    AzureWebJobsStorage__credential: 'managedidentity'
    AzureWebJobsStorage__clientId: identityClientId

    APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsightsConnectionString
    APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'

    // Lets DefaultAzureCredential in our own code pick the user-assigned identity.
    AZURE_CLIENT_ID: identityClientId

    SLUICE_LAKE__accountName: lakeStorageName
    SLUICE_LAKE__blobServiceUri: lakeBlobEndpoint
    SLUICE_LAKE__tableServiceUri: lakeTableEndpoint
    SLUICE_LAKE__credential: 'managedidentity'
    SLUICE_LAKE__clientId: identityClientId
    SLUICE_LAKE_CONTAINER: lakeContainerName
    SLUICE_LANDING_CONTAINER: landingContainerName
    SLUICE_PIPELINES: pipelines

    // host.json reads the task hub name from this setting (%SLUICE_TASK_HUB%).
    SLUICE_TASK_HUB: taskHubName

    // What one instance shares between its activities. The Functions host applies an
    // AzureFunctionsJobHost__* setting over host.json, and Sluice reads the concurrency the same way,
    // so the Durable extension and the DuckDB memory split (shared/sql/engine.ts) use one number.
    SLUICE_INSTANCE_MEMORY_MB: string(instanceMemoryMB)
    AzureFunctionsJobHost__extensions__durableTask__maxConcurrentActivityFunctions: string(activityConcurrency)

    // Event Hubs trigger connection `SLUICE_EVENTHUB`, resolved by the host.
    SLUICE_EVENTHUB__fullyQualifiedNamespace: eventHubFullyQualifiedNamespace
    SLUICE_EVENTHUB__credential: 'managedidentity'
    SLUICE_EVENTHUB__clientId: identityClientId
    SLUICE_EVENTHUB_NAME: eventHubName
    SLUICE_EVENTHUB_CONSUMER_GROUP: eventHubConsumerGroup

    // The backup timer (shared/host/settings.ts): written with the identity above, which alone has
    // Blob Data Contributor on the backup account (app/backup-storage.bicep).
    SLUICE_BACKUP_LOCATION: backupLocation
    SLUICE_BACKUP_SCHEDULE: backupSchedule
    SLUICE_BACKUP_RETENTION_DAYS: string(backupRetentionDays)
    SLUICE_BACKUP_MIN_VERSIONS: string(backupMinVersions)
  }
}

output id string = app.id
output name string = app.name
output defaultHostName string = app.properties.defaultHostName
