/**
 * The postdeploy hook that creates the Event Grid subscription within one `azd up`
 * (scripts/postdeploy.sh), run with sh against a stand-in `azd` on PATH that records its arguments and
 * fails `provision` as often as told (azd itself cannot be installed here). Also checks that the hook,
 * azure.yaml, main.parameters.json and main.bicep agree on the environment value's name.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readRepoFile, REPO_ROOT } from '../support/bicep-text';

const HOOK = nodePath.join(REPO_ROOT, 'scripts', 'postdeploy.sh');
const work = mkdtempSync(nodePath.join(tmpdir(), 'sluice-hook-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

// The stand-in: appends its arguments to calls.log; `provision` fails while the failure counter lasts.
const fakeAzd = `#!/bin/sh
echo "$*" >> "${work}/calls.log"
if [ "$1" = provision ]; then
  left=$(cat "${work}/failures" 2>/dev/null || echo 0)
  if [ "$left" -gt 0 ]; then echo $((left - 1)) > "${work}/failures"; exit 1; fi
fi
exit 0
`;
writeFileSync(nodePath.join(work, 'azd'), fakeAzd);
chmodSync(nodePath.join(work, 'azd'), 0o755);

function runHook(env: Record<string, string>, failures = 0) {
  rmSync(nodePath.join(work, 'calls.log'), { force: true });
  writeFileSync(nodePath.join(work, 'failures'), String(failures));
  const result = spawnSync('sh', [HOOK], {
    env: { PATH: `${work}:${process.env.PATH}`, SLUICE_HOOK_RETRY_SECONDS: '0', ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });
  const log = nodePath.join(work, 'calls.log');
  const calls = existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : [];
  return { status: result.status, calls, stdout: result.stdout, stderr: result.stderr };
}

describe('scripts/postdeploy.sh', () => {
  it('does nothing once the subscription is part of the infrastructure', () => {
    const run = runHook({ SLUICE_DEPLOY_EVENT_GRID_SUBSCRIPTION: 'true' });
    expect(run.status).toBe(0);
    expect(run.calls).toEqual([]);
  });

  it('on the first azd up, turns the subscription on and provisions again', () => {
    const run = runHook({});
    expect(run.status, run.stderr).toBe(0);
    expect(run.calls).toEqual(['env set SLUICE_DEPLOY_EVENT_GRID_SUBSCRIPTION true', 'provision --no-prompt']);
  });

  it('retries a provision that fails while the new function is not listed yet', () => {
    const run = runHook({ SLUICE_DEPLOY_EVENT_GRID_SUBSCRIPTION: 'false', SLUICE_HOOK_ATTEMPTS: '3' }, 2);
    expect(run.status, run.stderr).toBe(0);
    expect(run.calls).toEqual([
      'env set SLUICE_DEPLOY_EVENT_GRID_SUBSCRIPTION true',
      'provision --no-prompt',
      'provision --no-prompt',
      'provision --no-prompt',
    ]);
  });

  it('gives up after the last attempt, puts the value back so the next azd up retries, and says why', () => {
    const run = runHook({ SLUICE_HOOK_ATTEMPTS: '2' }, 5);
    expect(run.status).toBe(1);
    expect(run.calls).toEqual([
      'env set SLUICE_DEPLOY_EVENT_GRID_SUBSCRIPTION true',
      'provision --no-prompt',
      'provision --no-prompt',
      'env set SLUICE_DEPLOY_EVENT_GRID_SUBSCRIPTION false',
    ]);
    expect(run.stderr).toMatch(/failed 2 times.*reconcile timer/s);
  });
});

describe('the hook, azure.yaml and the Bicep agree', () => {
  it('azure.yaml runs the hook after deploying, on both shells, and the scripts exist', () => {
    const azureYaml = readRepoFile('azure.yaml');
    expect(azureYaml).toMatch(/^hooks:\n {2}postdeploy:\n {4}posix:\n {6}shell: sh\n {6}run: \.\/scripts\/postdeploy\.sh\n/m);
    expect(azureYaml).toMatch(/^ {4}windows:\n {6}shell: pwsh\n {6}run: \.\/scripts\/postdeploy\.ps1\n/m);
    expect(existsSync(nodePath.join(REPO_ROOT, 'scripts', 'postdeploy.ps1'))).toBe(true);
    // azd runs the path as given: the script must stay executable.
    expect(statSync(HOOK).mode & 0o111, 'scripts/postdeploy.sh is executable').not.toBe(0);
    const ps1 = readRepoFile('scripts/postdeploy.ps1');
    expect(ps1).toMatch(/azd env set SLUICE_DEPLOY_EVENT_GRID_SUBSCRIPTION true/);
    expect(ps1).toMatch(/azd provision --no-prompt/);
  });

  it('the environment value feeds the parameter, and the output of the same name keeps it', () => {
    const parameters = JSON.parse(readRepoFile('infra/main.parameters.json')).parameters;
    expect(parameters.deployEventGridSubscription.value).toBe('${SLUICE_DEPLOY_EVENT_GRID_SUBSCRIPTION=false}');
    const main = readRepoFile('infra/main.bicep');
    expect(main).toMatch(/^output SLUICE_DEPLOY_EVENT_GRID_SUBSCRIPTION bool = eventGrid\.outputs\.subscriptionDeployed$/m);
    expect(main).toMatch(/^\s+deploySubscription: deployEventGridSubscription$/m);
  });

  it('the subscription keeps its retry policy and dead-letters to a container the topic may write', () => {
    const eventGrid = readRepoFile('infra/app/event-grid.bicep');
    expect(eventGrid).toMatch(/retryPolicy: \{\n\s+maxDeliveryAttempts: \d+\n\s+eventTimeToLiveInMinutes: \d+/);
    expect(eventGrid).toMatch(/deadLetterWithResourceIdentity: \{\n\s+identity: \{\n\s+type: 'SystemAssigned'/);
    expect(eventGrid).toMatch(/blobContainerName: deadLetterContainerName/);
    // The topic has that identity, and Blob Data Contributor on exactly that container.
    expect(eventGrid).toMatch(/identity: \{\n\s+type: 'SystemAssigned'\n\s+\}\n\s+properties: \{\n\s+source: lakeStorage\.id/);
    expect(eventGrid).toMatch(
      /scope: deadLetterContainer\n\s+properties: \{\n\s+roleDefinitionId: subscriptionResourceId\('Microsoft\.Authorization\/roleDefinitions', storageBlobDataContributor\)\n\s+principalId: systemTopic\.identity\.principalId/,
    );
    // The container exists on the host account main.bicep hands over.
    const main = readRepoFile('infra/main.bicep');
    expect(main).toMatch(/^var eventGridDeadLetterContainerName = '[a-z0-9-]{3,63}'$/m);
    expect(/^module hostStorage '[^']+' = \{\n([^]*?)\n\}/m.exec(main)?.[1]).toMatch(/containers: \[[^\]]*eventGridDeadLetterContainerName/);
    expect(main).toMatch(/deadLetterContainerName: eventGridDeadLetterContainerName/);
  });
});
