// The backup target: a storage account of its own (optionally in another region), holding the
// container the backup timer writes to (SLUICE_BACKUP_LOCATION). Only the app's identity gets data
// access, as Storage Blob Data Contributor on this account: no developer, no other principal. A
// person restoring (`sluice restore --all`) is granted read access for the occasion.
//
// A plain StorageV2 account (no hierarchical namespace), so blob versioning, point-in-time features
// and container immutability policies are all available. With `immutabilityDays` > 0 the container
// gets a time-based retention policy (WORM): backed-up files cannot be changed or deleted for that
// many days after they were written; the backup's retention then leaves them until the period ends
// (reported, not fatal), and the best-effort `_last_checkpoint` hints stay at their first value.

param name string
param location string
param tags object = {}
@description('Container the backups are written to.')
param containerName string = 'backup'
@description('Principal (object) ID of the app identity: the only principal granted data access.')
param identityPrincipalId string
@description('Days each backed-up blob is immutable (container-level time-based retention); 0 for none.')
@minValue(0)
@maxValue(146000)
param immutabilityDays int = 0
@description('Days a deleted blob or container can be restored.')
param softDeleteRetentionDays int = 7
param skuName string = 'Standard_GRS'

module account '../core/storage/storage-account.bicep' = {
  name: 'backup-storage-account'
  params: {
    name: name
    location: location
    tags: tags
    skuName: skuName
    softDeleteRetentionDays: softDeleteRetentionDays
    containers: [
      containerName
    ]
  }
}

// After the account exists (the module output makes the dependency): the policy and the one role.
module access 'backup-access.bicep' = {
  name: 'backup-storage-access'
  params: {
    storageName: account.outputs.name
    containerName: containerName
    identityPrincipalId: identityPrincipalId
    immutabilityDays: immutabilityDays
  }
}

output name string = account.outputs.name
output blobEndpoint string = account.outputs.blobEndpoint
output location string = '${account.outputs.blobEndpoint}${containerName}'
