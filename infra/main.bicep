// Sluice on Azure: everything `azd up` provisions for one environment.
//
//   resource group
//   ├─ user-assigned identity ........ the app runs as it; every data-plane role below is granted to it
//   ├─ Log Analytics + App Insights .. local auth off; telemetry sent with the identity
//   ├─ host storage account .......... AzureWebJobsStorage: Durable task hub (queues, tables), timer and
//   │                                   Event Hubs checkpoints, the deployment package container, and
//   │                                   `eventgrid-deadletter` for events Event Grid could not deliver
//   ├─ lake storage account (ADLS Gen2) containers `landing` and `lake`, Sluice tables
//   ├─ Key Vault (RBAC mode) ......... secret `sluice-pii-key`, the app's SLUICE_PII_KEY
//   ├─ backup storage account ....... SLUICE_BACKUP_LOCATION; only the app's identity may write (optional
//   │                                   other region, optional immutability)
//   ├─ Event Hubs namespace .......... hub `network-telemetry`, consumer group `sluice`
//   ├─ Flex Consumption function app . Node 22, identity-based settings only
//   ├─ Event Grid system topic ....... on the lake account; subscription BlobCreated(landing) → blobCreated
//   └─ virtual network (option) ...... networkIsolation: private endpoints for storage and Event Hubs
//
// Two storage accounts, not one: the lake needs the hierarchical namespace and is tiered, backed up and
// vacuumed as data, while host storage is chatty runtime state (Durable queues poll constantly). Keeping
// them apart keeps runtime blobs out of the lake's lifecycle rules, backups and Event Grid topic, and
// lets the lake be granted to people without granting the task hub.
//
// One `azd up` creates everything. The Event Grid subscription is the one part that cannot be
// provisioned before the code is deployed (Event Grid checks that the target function exists), and
// `azd up` provisions first. So the postdeploy hook (scripts/postdeploy.sh, .ps1) sets
// SLUICE_DEPLOY_EVENT_GRID_SUBSCRIPTION=true and runs `azd provision` again: the subscription is then
// declared here like everything else (no CLI-made resource drifting beside the template), and later
// runs of `azd up` provision it at once, because the output of the same name keeps the value true in
// the azd environment.

targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('azd environment name; used to derive unique resource names.')
param environmentName string

@minLength(1)
@description('Region for all resources. It must offer the Flex Consumption plan.')
param location string

@description('Object ID of the principal running azd (a developer, or the CI service principal); gets data access to the lake and reads the PII key back. Empty to skip.')
param principalId string = ''

@allowed(['User', 'ServicePrincipal', 'Group'])
@description('Kind of principal principalId is: User for a developer, ServicePrincipal in CI (AZURE_PRINCIPAL_TYPE).')
param principalType string = 'User'

@secure()
@description('SLUICE_PII_KEY as azd resolves it before provisioning (main.parameters.json): the key already in the vault, or a generated one on the first provision. See core/security/key-vault.bicep.')
param piiKey string

@secure()
@description('Random text that lengthens a freshly generated PII key; a new GUID on every deployment, used only when the key is generated.')
param piiKeyEntropy string = newGuid()

@description('Resource group name; derived from the environment name when empty.')
param resourceGroupName string = ''

@allowed([512, 2048, 4096])
@description('Memory per function instance in MB. Parquet and Arrow buffers live here; 2048 is the default.')
param instanceMemoryMB int = 2048

@minValue(1)
@maxValue(64)
@description('Activities (silver/gold table refreshes) one instance runs at once. Each gets an equal share of the instance memory for DuckDB (shared/sql/engine.ts); set as the app setting that overrides host.json\'s maxConcurrentActivityFunctions.')
param activityConcurrency int = 4

@minValue(1)
@maxValue(1000)
@description('Upper bound of instances the app scales out to.')
param maximumInstanceCount int = 100

@description('Durable task hub name (SLUICE_TASK_HUB): 3-45 letters or digits, starting with a letter.')
param taskHubName string = 'SluiceHub'

@description('Pipeline definitions the app serves (SLUICE_PIPELINES): a path or glob relative to the app root. The default deploys the point-of-sale example so a first `azd up` ingests something; point it at your own YAML files (e.g. pipelines/*.yaml).')
param pipelines string = 'examples/pipelines/pos.yaml'

@description('E-mail address the monitoring alerts (objective breaches, failed table updates, new dead letters) are sent to. Empty: the alert rules fire into an action group without receivers.')
param alertEmail string = ''

@description('NCRONTAB schedule of the metrics timer (SLUICE_METRICS_SCHEDULE).')
param metricsSchedule string = '0 */5 * * * *'

@minValue(1)
@maxValue(3650)
@description('Days the metrics timer keeps points and objective breaches in the SluiceMetrics table (SLUICE_METRICS_RETENTION_DAYS).')
param metricsRetentionDays int = 30

@description('Create the Event Grid subscription landing BlobCreated -> blobCreated. Only once the code is deployed: the postdeploy hook turns it on (see the top of this file).')
param deployEventGridSubscription bool = false

@description('Network option (SLUICE_NETWORK_ISOLATION): the storage accounts and Event Hubs behind private endpoints, the function app on a virtual network. Off by default; see README "Deploying".')
param networkIsolation bool = false

@description('Easy Auth option (SLUICE_EASY_AUTH_CLIENT_ID): client ID of a Microsoft Entra app registration; people then sign in before any HTTP route. Empty: off (function keys only). See README "Deploying".')
param easyAuthClientId string = ''
@description('Region of the backup storage account (empty: the same as location). Another region keeps backups through a regional outage.')
param backupRegion string = ''

@minValue(0)
@description('Days each backed-up blob is immutable (time-based retention policy on the backup container); 0 for none. For regulated data.')
param backupImmutabilityDays int = 0

@description('SLUICE_BACKUP_SCHEDULE: NCRONTAB schedule of the backup timer.')
param backupSchedule string = '0 0 2 * * *'

@minValue(0)
@description('SLUICE_BACKUP_RETENTION_DAYS: days of backed-up table versions kept.')
param backupRetentionDays int = 30

@minValue(1)
@description('SLUICE_BACKUP_MIN_VERSIONS: newest backed-up versions of each table kept whatever their age.')
param backupMinVersions int = 7

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}

var serviceName = 'sluice' // must match services.<name> in azure.yaml
var functionAppName = 'func-sluice-${resourceToken}'
var deploymentContainerName = 'app-package-sluice-${take(resourceToken, 7)}'
var eventGridDeadLetterContainerName = 'eventgrid-deadletter'
var lakeContainerName = 'lake'
var landingContainerName = 'landing'
var eventHubName = 'network-telemetry'
var eventHubConsumerGroup = 'sluice'

resource rg 'Microsoft.Resources/resourceGroups@2022-09-01' = {
  name: !empty(resourceGroupName) ? resourceGroupName : 'rg-${environmentName}'
  location: location
  tags: tags
}

module identity 'core/identity/user-assigned-identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: 'id-sluice-${resourceToken}'
    location: location
    tags: tags
  }
}

module monitoring 'core/monitor/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: 'log-sluice-${resourceToken}'
    applicationInsightsName: 'appi-sluice-${resourceToken}'
    location: location
    tags: tags
  }
}

module hostStorage 'core/storage/storage-account.bicep' = {
  name: 'host-storage'
  scope: rg
  params: {
    name: 'sthost${resourceToken}'
    location: location
    tags: tags
    privateNetworking: networkIsolation
    containers: [
      deploymentContainerName
      eventGridDeadLetterContainerName
    ]
  }
}

module lakeStorage 'core/storage/storage-account.bicep' = {
  name: 'lake-storage'
  scope: rg
  params: {
    name: 'stlake${resourceToken}'
    location: location
    tags: tags
    privateNetworking: networkIsolation
    isHnsEnabled: true
    // A deleted blob or container of the lake can be restored for 7 days: the last line of defence
    // behind vacuum's retention (a wrong --force, a mistaken delete outside Sluice).
    softDeleteRetentionDays: 7
    containers: [
      landingContainerName
      lakeContainerName
    ]
  }
}

module keyVault 'core/security/key-vault.bicep' = {
  name: 'key-vault'
  scope: rg
  params: {
    name: 'kv-sluice-${resourceToken}'
    location: location
    tags: tags
    piiKey: piiKey
    piiKeyEntropy: piiKeyEntropy
  }
}

// The backup target: its own account, written only by the app's identity (app/backup-storage.bicep).
module backupStorage 'app/backup-storage.bicep' = {
  name: 'backup-storage'
  scope: rg
  params: {
    name: 'stbak${resourceToken}'
    location: !empty(backupRegion) ? backupRegion : location
    tags: tags
    identityPrincipalId: identity.outputs.principalId
    immutabilityDays: backupImmutabilityDays
  }
}

module eventHubs 'app/eventhubs.bicep' = {
  name: 'eventhubs'
  scope: rg
  params: {
    namespaceName: 'evhns-sluice-${resourceToken}'
    eventHubName: eventHubName
    consumerGroupName: eventHubConsumerGroup
    location: location
    tags: tags
    privateNetworking: networkIsolation
  }
}

module network 'app/network.bicep' = if (networkIsolation) {
  name: 'network'
  scope: rg
  params: {
    location: location
    tags: tags
    vnetName: 'vnet-sluice-${resourceToken}'
    hostStorageId: hostStorage.outputs.id
    lakeStorageId: lakeStorage.outputs.id
    eventHubNamespaceId: eventHubs.outputs.namespaceId
  }
}

module functionApp 'app/function-app.bicep' = {
  name: 'function-app'
  scope: rg
  // Grant the identity its roles first, so the app's first start can already reach storage.
  dependsOn: [
    rbac
  ]
  params: {
    planName: 'plan-sluice-${resourceToken}'
    appName: functionAppName
    location: location
    tags: tags
    serviceName: serviceName
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    hostStorageName: hostStorage.outputs.name
    hostBlobEndpoint: hostStorage.outputs.blobEndpoint
    deploymentContainerName: deploymentContainerName
    lakeStorageName: lakeStorage.outputs.name
    lakeBlobEndpoint: lakeStorage.outputs.blobEndpoint
    lakeTableEndpoint: lakeStorage.outputs.tableEndpoint
    lakeContainerName: lakeContainerName
    landingContainerName: landingContainerName
    eventHubFullyQualifiedNamespace: eventHubs.outputs.fullyQualifiedNamespace
    eventHubName: eventHubs.outputs.eventHubName
    eventHubConsumerGroup: eventHubs.outputs.consumerGroupName
    applicationInsightsConnectionString: monitoring.outputs.applicationInsightsConnectionString
    piiKeySecretUri: keyVault.outputs.piiKeySecretUri
    taskHubName: taskHubName
    pipelines: pipelines
    instanceMemoryMB: instanceMemoryMB
    activityConcurrency: activityConcurrency
    maximumInstanceCount: maximumInstanceCount
    appSubnetId: networkIsolation ? network.outputs.appSubnetId : ''
    easyAuthClientId: easyAuthClientId
    metricsSchedule: metricsSchedule
    metricsRetentionDays: metricsRetentionDays
    backupLocation: backupStorage.outputs.location
    backupSchedule: backupSchedule
    backupRetentionDays: backupRetentionDays
    backupMinVersions: backupMinVersions
  }
}

// The dashboard's views as an Azure Monitor workbook, over the same telemetry (app/workbook.bicep).
module workbook 'app/workbook.bicep' = {
  name: 'workbook'
  scope: rg
  params: {
    location: location
    tags: tags
    applicationInsightsName: monitoring.outputs.applicationInsightsName
  }
}

// Alert rules on what the app exports to Application Insights (shared/monitoring), with an action group.
module alerts 'app/alerts.bicep' = {
  name: 'alerts'
  scope: rg
  params: {
    location: location
    tags: tags
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    alertEmail: alertEmail
  }
}

module rbac 'app/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    identityPrincipalId: identity.outputs.principalId
    userPrincipalId: principalId
    userPrincipalType: principalType
    hostStorageName: hostStorage.outputs.name
    lakeStorageName: lakeStorage.outputs.name
    lakeContainerName: lakeContainerName
    landingContainerName: landingContainerName
    eventHubNamespaceName: eventHubs.outputs.namespaceName
    eventHubName: eventHubs.outputs.eventHubName
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    keyVaultName: keyVault.outputs.name
  }
}

module eventGrid 'app/event-grid.bicep' = {
  name: 'event-grid'
  scope: rg
  params: {
    systemTopicName: 'evgt-sluice-lake-${resourceToken}'
    location: location
    tags: tags
    lakeStorageName: lakeStorage.outputs.name
    landingContainerName: landingContainerName
    functionAppName: functionApp.outputs.name
    deploySubscription: deployEventGridSubscription
    hostStorageName: hostStorage.outputs.name
    deadLetterContainerName: eventGridDeadLetterContainerName
  }
}

// Outputs land in the azd environment (.azure/<env>/.env). The SLUICE_* ones use the same names the
// app reads, so the `sluice` CLI can point at the cloud lake with the developer's own credential.
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output SLUICE_FUNCTION_APP_URL string = 'https://${functionApp.outputs.defaultHostName}'
output APPLICATIONINSIGHTS_CONNECTION_STRING string = monitoring.outputs.applicationInsightsConnectionString
output SLUICE_LAKE__accountName string = lakeStorage.outputs.name
output SLUICE_LAKE__blobServiceUri string = lakeStorage.outputs.blobEndpoint
output SLUICE_LAKE_CONTAINER string = lakeContainerName
output SLUICE_LANDING_CONTAINER string = landingContainerName
output SLUICE_TASK_HUB string = taskHubName
output SLUICE_EVENTHUB__fullyQualifiedNamespace string = eventHubs.outputs.fullyQualifiedNamespace
output SLUICE_EVENTHUB_NAME string = eventHubs.outputs.eventHubName
output SLUICE_EVENTHUB_CONSUMER_GROUP string = eventHubs.outputs.consumerGroupName
// Read by azd's secretOrRandomPassword on the next provision (main.parameters.json), so the key is kept.
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
// Same name as the parameter's environment value (main.parameters.json): once the hook has provisioned
// the subscription, every later provision, and `azd env refresh` in a fresh environment (CI), keep it.
output SLUICE_DEPLOY_EVENT_GRID_SUBSCRIPTION bool = eventGrid.outputs.subscriptionDeployed
output SLUICE_NETWORK_ISOLATION bool = networkIsolation
output SLUICE_EASY_AUTH_CLIENT_ID string = easyAuthClientId
output SLUICE_EVENT_GRID_DEAD_LETTER_CONTAINER string = eventGridDeadLetterContainerName
output SLUICE_BACKUP_LOCATION string = backupStorage.outputs.location
