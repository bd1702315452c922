#!/bin/sh
# azd postdeploy hook (azure.yaml): wires landing files to the deployed app within the same `azd up`.
#
# The Event Grid subscription (landing BlobCreated -> blobCreated) is declared in infra/app/event-grid.bicep
# but can only be created once the function exists, i.e. after the code deployment `azd up` has just
# done. So, the first time, this turns SLUICE_DEPLOY_EVENT_GRID_SUBSCRIPTION on in the azd environment
# and provisions again; the template then owns the subscription like every other resource, and later
# provisions keep it (the Bicep outputs the same value back into the environment). Why a second
# provision rather than `az eventgrid ... create`: it needs only azd, and nothing exists beside the
# template to drift from it.
#
# The function may take a little while to be listed after a deployment, which Event Grid checks, so a
# failed provision is retried (SLUICE_HOOK_ATTEMPTS times, SLUICE_HOOK_RETRY_SECONDS apart); if it
# keeps failing the value is put back to false, so the next `azd up` tries again.
set -eu

if [ "${SLUICE_DEPLOY_EVENT_GRID_SUBSCRIPTION:-false}" = "true" ]; then
  echo "postdeploy: the Event Grid subscription for landing files is provisioned with the infrastructure."
  exit 0
fi

attempts=${SLUICE_HOOK_ATTEMPTS:-3}
pause=${SLUICE_HOOK_RETRY_SECONDS:-30}

echo "postdeploy: creating the Event Grid subscription landing -> blobCreated (azd provision with SLUICE_DEPLOY_EVENT_GRID_SUBSCRIPTION=true)"
azd env set SLUICE_DEPLOY_EVENT_GRID_SUBSCRIPTION true
attempt=1
until azd provision --no-prompt; do
  if [ "$attempt" -ge "$attempts" ]; then
    azd env set SLUICE_DEPLOY_EVENT_GRID_SUBSCRIPTION false
    echo "postdeploy: provisioning the Event Grid subscription failed $attempts times; files dropped in landing" >&2
    echo "are still ingested by the reconcile timer (every 5 minutes). Run 'azd up' again to retry." >&2
    exit 1
  fi
  attempt=$((attempt + 1))
  echo "postdeploy: retrying in ${pause}s (attempt $attempt of $attempts); the new function may not be listed yet"
  sleep "$pause"
done
echo "postdeploy: files dropped in the landing container are now ingested as they arrive."
