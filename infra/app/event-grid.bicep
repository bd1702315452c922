// Blob-created events from the lake account's landing container to the app's `blobCreated` function
// (an Event Grid trigger, app.eventGrid). The system topic can be created at any time; the
// subscription cannot: Event Grid checks that the target function exists, and it exists only after
// the code has been deployed. `azd up` provisions before it deploys, so the subscription comes from
// the postdeploy hook (scripts/postdeploy.sh, .ps1), which turns `deploySubscription` on and
// provisions again within the same `azd up`; see main.bicep.
//
// Events Event Grid could not deliver (the function down past the retry window, or rejecting them)
// are written to a dead-letter container of the host storage account, with the topic's own
// identity. Reconcile-by-listing still ingests the files those events named; the dead letters say
// which deliveries failed and why.

param systemTopicName string
param location string
param tags object = {}
param lakeStorageName string
param landingContainerName string
param functionAppName string
@description('Name of the Event Grid trigger function that ingests landing files.')
param functionName string = 'blobCreated'
@description('Create the event subscription. Only after the function code has been deployed.')
param deploySubscription bool = false
@description('Host storage account holding the dead-letter container.')
param hostStorageName string
@description('Container of the host storage account undeliverable events are written to.')
param deadLetterContainerName string

resource lakeStorage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: lakeStorageName
}

resource hostStorage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: hostStorageName
}

resource hostBlobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' existing = {
  parent: hostStorage
  name: 'default'
}

resource deadLetterContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = {
  parent: hostBlobService
  name: deadLetterContainerName
}

resource systemTopic 'Microsoft.EventGrid/systemTopics@2022-06-15' = {
  name: systemTopicName
  location: location
  tags: tags
  // Its identity writes dead letters (no keys, and it passes the storage firewall of the network
  // option as a trusted service).
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    source: lakeStorage.id
    topicType: 'Microsoft.Storage.StorageAccounts'
  }
}

// Storage Blob Data Contributor on the dead-letter container only.
var storageBlobDataContributor = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'

resource topicDeadLetterWriter 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(deadLetterContainer.id, systemTopic.id, storageBlobDataContributor)
  scope: deadLetterContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataContributor)
    principalId: systemTopic.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

resource landingBlobCreated 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2022-06-15' = if (deploySubscription) {
  parent: systemTopic
  name: 'landing-blob-created'
  dependsOn: [
    topicDeadLetterWriter
  ]
  properties: {
    // The AzureFunction endpoint type lets Event Grid resolve the function's key itself, so no key
    // or webhook URL with a code appears in this template.
    destination: {
      endpointType: 'AzureFunction'
      properties: {
        resourceId: resourceId('Microsoft.Web/sites/functions', functionAppName, functionName)
        maxEventsPerBatch: 1
        preferredBatchSizeInKilobytes: 64
      }
    }
    eventDeliverySchema: 'EventGridSchema'
    filter: {
      includedEventTypes: [
        'Microsoft.Storage.BlobCreated'
      ]
      subjectBeginsWith: '/blobServices/default/containers/${landingContainerName}/'
      // On a hierarchical-namespace account a DFS upload raises BlobCreated for CreateFile (an empty
      // file) as well as for the final FlushWithClose; only whole files are worth ingesting. Note that
      // on such accounts CopyBlob raises the event when the copy starts, so ingest must still check
      // the blob's copy status. Missed or expired events are caught by reconcile-by-listing.
      advancedFilters: [
        {
          operatorType: 'StringIn'
          key: 'data.api'
          values: [
            'PutBlob'
            'PutBlockList'
            'CopyBlob'
            'FlushWithClose'
          ]
        }
      ]
    }
    retryPolicy: {
      maxDeliveryAttempts: 30
      eventTimeToLiveInMinutes: 1440
    }
    deadLetterWithResourceIdentity: {
      identity: {
        type: 'SystemAssigned'
      }
      deadLetterDestination: {
        endpointType: 'StorageBlob'
        properties: {
          resourceId: hostStorage.id
          blobContainerName: deadLetterContainerName
        }
      }
    }
  }
}

output systemTopicName string = systemTopic.name
output subscriptionDeployed bool = deploySubscription
