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
@description('Versionless URI of the Key Vault secret holding SLUICE_PII_KEY.')
param piiKeySecretUri string
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
@description('Easy Auth option: client ID of the Microsoft Entra app registration that signs people in before any HTTP route; empty leaves App Service authentication off (function keys only).')
param easyAuthClientId string = ''
@description('Easy Auth: what a request without a session or token gets. People (dashboard, catalog) are sent to the sign-in page; scripts should send a bearer token.')
@allowed(['RedirectToLoginPage', 'Return401'])
param easyAuthUnauthenticatedAction string = 'RedirectToLoginPage'
@description('Network option: the subnet (delegated to Microsoft.App/environments) the app\'s outbound traffic goes through; empty for none.')
param appSubnetId string = ''

@description('NCRONTAB schedule of the metrics timer (SLUICE_METRICS_SCHEDULE).')
param metricsSchedule string = '0 */5 * * * *'

@description('Days of metrics kept in SluiceMetrics (SLUICE_METRICS_RETENTION_DAYS).')
param metricsRetentionDays int = 30

@description('SLUICE_BACKUP_LOCATION: the backup container URL (the backup storage account).')
param backupLocation string = ''
@description('SLUICE_BACKUP_SCHEDULE: NCRONTAB schedule of the backup timer.')
param backupSchedule string = '0 0 2 * * *'
@description('SLUICE_BACKUP_RETENTION_DAYS')
param backupRetentionDays int = 30
@description('SLUICE_BACKUP_MIN_VERSIONS')
param backupMinVersions int = 7
@description('SLUICE_BACKUP_COPY_CONCURRENCY: files of one table the backup timer copies at once (1 to 256).')
@minValue(1)
@maxValue(256)
param backupCopyConcurrency int = 16
@description('SLUICE_BACKUP_TABLE_CONCURRENCY: tables the backup timer backs up at once (1 to 64).')
@minValue(1)
@maxValue(64)
param backupTableConcurrency int = 4

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
    // Key Vault references (SLUICE_PII_KEY) are resolved with the app's user-assigned identity.
    keyVaultReferenceIdentity: identityId
    virtualNetworkSubnetId: empty(appSubnetId) ? null : appSubnetId
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

    // The HMAC key of `pii: hash` columns, resolved by the platform from Key Vault at start-up (the
    // newest version of the secret); the value never appears in app settings.
    SLUICE_PII_KEY: '@Microsoft.KeyVault(SecretUri=${piiKeySecretUri})'

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

    // The metrics timer (shared/monitoring).
    SLUICE_METRICS_SCHEDULE: metricsSchedule
    SLUICE_METRICS_RETENTION_DAYS: string(metricsRetentionDays)
    // The backup timer (shared/host/settings.ts): written with the identity above, which alone has
    // Blob Data Contributor on the backup account (app/backup-storage.bicep).
    SLUICE_BACKUP_LOCATION: backupLocation
    SLUICE_BACKUP_SCHEDULE: backupSchedule
    SLUICE_BACKUP_RETENTION_DAYS: string(backupRetentionDays)
    SLUICE_BACKUP_MIN_VERSIONS: string(backupMinVersions)
    SLUICE_BACKUP_COPY_CONCURRENCY: string(backupCopyConcurrency)
    SLUICE_BACKUP_TABLE_CONCURRENCY: string(backupTableConcurrency)
  }
}

// App Service authentication ("Easy Auth") with Microsoft Entra ID, in front of every HTTP route when
// easyAuthClientId is given. It runs before the Functions host: a request needs a signed-in session (or
// a bearer token for the app registration) and then, as before, the route's function key. Paths Azure
// itself calls without a user are left open: Event Grid's delivery endpoint (it brings the
// eventgrid_extension key) and the anonymous health probe.
resource authSettings 'Microsoft.Web/sites/config@2024-04-01' = if (!empty(easyAuthClientId)) {
  parent: app
  name: 'authsettingsV2'
  // Site config is written one part at a time: two parts updated at once can conflict.
  dependsOn: [
    appSettings
  ]
  properties: {
    platform: {
      enabled: true
    }
    globalValidation: {
      requireAuthentication: true
      unauthenticatedClientAction: easyAuthUnauthenticatedAction
      redirectToProvider: 'azureactivedirectory'
      excludedPaths: [
        '/api/health'
        '/runtime/webhooks/EventGrid'
        '/runtime/webhooks/eventgrid'
      ]
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          // Single tenant: only accounts of this tenant sign in. No client secret: the sign-in uses
          // ID tokens, so nothing secret has to be stored for it.
          openIdIssuer: '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'
          clientId: easyAuthClientId
        }
        validation: {
          allowedAudiences: [
            easyAuthClientId
            'api://${easyAuthClientId}'
          ]
        }
      }
    }
    login: {
      tokenStore: {
        enabled: false
      }
    }
    httpSettings: {
      requireHttps: true
    }
  }
}

output id string = app.id
output name string = app.name
output defaultHostName string = app.properties.defaultHostName
