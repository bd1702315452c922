// Blob-created events from the lake account's landing container to the app's `blobCreated` function
// (an Event Grid trigger, app.eventGrid). The system topic can be created at any time; the
// subscription cannot: Event Grid checks that the target function exists, and it exists only after
// the code has been deployed. Hence `deploySubscription` (see main.bicep for the two-step flow).

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

resource lakeStorage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: lakeStorageName
}

resource systemTopic 'Microsoft.EventGrid/systemTopics@2022-06-15' = {
  name: systemTopicName
  location: location
  tags: tags
  properties: {
    source: lakeStorage.id
    topicType: 'Microsoft.Storage.StorageAccounts'
  }
}

resource landingBlobCreated 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2022-06-15' = if (deploySubscription) {
  parent: systemTopic
  name: 'landing-blob-created'
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
  }
}

output systemTopicName string = systemTopic.name
output subscriptionDeployed bool = deploySubscription
