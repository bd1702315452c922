// Event Hubs namespace, the `network-telemetry` hub and the consumer group Sluice reads with.
// Standard tier: Basic allows only the `$Default` consumer group. Local (SAS) auth is off; the app
// receives with its managed identity (Azure Event Hubs Data Receiver on the hub, see rbac.bicep).

param namespaceName string
param eventHubName string
param consumerGroupName string
param location string
param tags object = {}
@minValue(1)
@maxValue(32)
@description('Partitions of the hub. Each partition is read by at most one function instance at a time.')
param partitionCount int = 4
@minValue(1)
@maxValue(7)
param messageRetentionInDays int = 7
@description('Network option: private traffic only (a private endpoint in app/network.bicep).')
param privateNetworking bool = false

resource namespace 'Microsoft.EventHub/namespaces@2024-01-01' = {
  name: namespaceName
  location: location
  tags: tags
  sku: {
    name: 'Standard'
    tier: 'Standard'
    capacity: 1
  }
  properties: {
    disableLocalAuth: true
    minimumTlsVersion: '1.2'
    publicNetworkAccess: privateNetworking ? 'Disabled' : 'Enabled'
  }
}

resource hub 'Microsoft.EventHub/namespaces/eventhubs@2024-01-01' = {
  parent: namespace
  name: eventHubName
  properties: {
    partitionCount: partitionCount
    messageRetentionInDays: messageRetentionInDays
  }
}

resource consumerGroup 'Microsoft.EventHub/namespaces/eventhubs/consumergroups@2024-01-01' = {
  parent: hub
  name: consumerGroupName
}

output namespaceName string = namespace.name
output namespaceId string = namespace.id
output eventHubName string = hub.name
output consumerGroupName string = consumerGroup.name
// The host name of `serviceBusEndpoint` (https://<ns>.servicebus.windows.net:443/), which is what
// identity-based connections expect in `__fullyQualifiedNamespace`; taken from the endpoint rather
// than built from a literal suffix so that sovereign clouds work too.
output fullyQualifiedNamespace string = split(split(namespace.properties.serviceBusEndpoint, '/')[2], ':')[0]
