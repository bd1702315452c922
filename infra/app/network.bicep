// The network option (main.bicep `networkIsolation`, off by default): a virtual network the function
// app's outbound traffic goes through (Flex Consumption VNet integration: a subnet delegated to
// Microsoft.App/environments), and private endpoints that put the host and lake storage accounts
// (blob, queue, table, dfs) and the Event Hubs namespace on that network, with the private DNS zones
// that resolve their usual host names to the endpoints. The accounts then refuse public traffic
// except from trusted Azure services (Event Grid's dead-lettering with its identity); Event Hubs
// takes private traffic only.

param location string
param tags object = {}
param vnetName string
param hostStorageId string
param lakeStorageId string
param eventHubNamespaceId string
param addressPrefix string = '10.40.0.0/16'
param appSubnetPrefix string = '10.40.1.0/24'
param privateEndpointSubnetPrefix string = '10.40.2.0/24'

var storageSuffix = environment().suffixes.storage
// Event Hubs' private link zone has no environment() suffix; this is the public cloud's.
var eventHubsZone = 'privatelink.servicebus.windows.net'

resource vnet 'Microsoft.Network/virtualNetworks@2024-05-01' = {
  name: vnetName
  location: location
  tags: tags
  properties: {
    addressSpace: {
      addressPrefixes: [
        addressPrefix
      ]
    }
    subnets: [
      {
        name: 'app'
        properties: {
          addressPrefix: appSubnetPrefix
          delegations: [
            {
              name: 'flex-consumption'
              properties: {
                serviceName: 'Microsoft.App/environments'
              }
            }
          ]
        }
      }
      {
        name: 'private-endpoints'
        properties: {
          addressPrefix: privateEndpointSubnetPrefix
          privateEndpointNetworkPolicies: 'Disabled'
        }
      }
    ]
  }
}

var zoneNames = [
  'privatelink.blob.${storageSuffix}'
  'privatelink.queue.${storageSuffix}'
  'privatelink.table.${storageSuffix}'
  'privatelink.dfs.${storageSuffix}'
  eventHubsZone
]

resource zones 'Microsoft.Network/privateDnsZones@2024-06-01' = [
  for zone in zoneNames: {
    name: zone
    location: 'global'
    tags: tags
  }
]

resource zoneLinks 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2024-06-01' = [
  for (zone, i) in zoneNames: {
    parent: zones[i]
    name: vnetName
    location: 'global'
    tags: tags
    properties: {
      registrationEnabled: false
      virtualNetwork: {
        id: vnet.id
      }
    }
  }
]

// Every endpoint: which resource, which sub-resource, which zone (index into zoneNames).
var endpoints = [
  { name: 'pe-host-blob', target: hostStorageId, groupId: 'blob', zone: 0 }
  { name: 'pe-host-queue', target: hostStorageId, groupId: 'queue', zone: 1 }
  { name: 'pe-host-table', target: hostStorageId, groupId: 'table', zone: 2 }
  { name: 'pe-lake-blob', target: lakeStorageId, groupId: 'blob', zone: 0 }
  { name: 'pe-lake-dfs', target: lakeStorageId, groupId: 'dfs', zone: 3 }
  { name: 'pe-lake-table', target: lakeStorageId, groupId: 'table', zone: 2 }
  { name: 'pe-eventhubs', target: eventHubNamespaceId, groupId: 'namespace', zone: 4 }
]

module privateEndpoints '../core/network/private-endpoint.bicep' = [
  for endpoint in endpoints: {
    name: endpoint.name
    params: {
      name: endpoint.name
      location: location
      tags: tags
      subnetId: '${vnet.id}/subnets/private-endpoints'
      targetId: endpoint.target
      groupId: endpoint.groupId
      privateDnsZoneId: zones[endpoint.zone].id
    }
  }
]

output appSubnetId string = '${vnet.id}/subnets/app'
output vnetId string = vnet.id
