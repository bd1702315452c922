// One private endpoint: a NIC in the private-endpoint subnet for one sub-resource (`groupId`: blob,
// queue, table, dfs, namespace) of one resource, registered in the private DNS zone that makes the
// resource's public host name resolve to that NIC inside the virtual network.

param name string
param location string
param tags object = {}
param subnetId string
@description('Resource ID of the storage account or Event Hubs namespace.')
param targetId string
@description('Sub-resource the endpoint reaches (blob, queue, table, dfs, namespace).')
param groupId string
param privateDnsZoneId string

resource endpoint 'Microsoft.Network/privateEndpoints@2024-05-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    subnet: {
      id: subnetId
    }
    privateLinkServiceConnections: [
      {
        name: name
        properties: {
          privateLinkServiceId: targetId
          groupIds: [
            groupId
          ]
        }
      }
    ]
  }
}

resource dnsGroup 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2024-05-01' = {
  parent: endpoint
  name: 'default'
  properties: {
    privateDnsZoneConfigs: [
      {
        name: groupId
        properties: {
          privateDnsZoneId: privateDnsZoneId
        }
      }
    ]
  }
}
