# azd postdeploy hook (azure.yaml) on Windows: the same steps as scripts/postdeploy.sh, which explains
# them. The first `azd up` turns SLUICE_DEPLOY_EVENT_GRID_SUBSCRIPTION on and provisions again, now that
# the blobCreated function exists, so the Event Grid subscription is created in the same `azd up`.
$ErrorActionPreference = 'Stop'

if ($env:SLUICE_DEPLOY_EVENT_GRID_SUBSCRIPTION -eq 'true') {
  Write-Host 'postdeploy: the Event Grid subscription for landing files is provisioned with the infrastructure.'
  exit 0
}

$attempts = if ($env:SLUICE_HOOK_ATTEMPTS) { [int]$env:SLUICE_HOOK_ATTEMPTS } else { 3 }
$pause = if ($env:SLUICE_HOOK_RETRY_SECONDS) { [int]$env:SLUICE_HOOK_RETRY_SECONDS } else { 30 }

Write-Host 'postdeploy: creating the Event Grid subscription landing -> blobCreated (azd provision with SLUICE_DEPLOY_EVENT_GRID_SUBSCRIPTION=true)'
azd env set SLUICE_DEPLOY_EVENT_GRID_SUBSCRIPTION true
if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
for ($attempt = 1; ; $attempt++) {
  azd provision --no-prompt
  if ($LASTEXITCODE -eq 0) { break }
  if ($attempt -ge $attempts) {
    azd env set SLUICE_DEPLOY_EVENT_GRID_SUBSCRIPTION false
    Write-Error ("postdeploy: provisioning the Event Grid subscription failed $attempts times; files dropped in landing " +
      "are still ingested by the reconcile timer (every 5 minutes). Run 'azd up' again to retry.")
    exit 1
  }
  Write-Host "postdeploy: retrying in ${pause}s (attempt $($attempt + 1) of $attempts); the new function may not be listed yet"
  Start-Sleep -Seconds $pause
}
Write-Host 'postdeploy: files dropped in the landing container are now ingested as they arrive.'
