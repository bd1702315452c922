// The one identity the function app runs as. A user-assigned identity (rather than the app's
// system-assigned one) exists before the app does, so role assignments and the deployment-package
// access can be granted in the same deployment that creates the app.

param name string
param location string
param tags object = {}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output name string = identity.name
output principalId string = identity.properties.principalId
output clientId string = identity.properties.clientId
