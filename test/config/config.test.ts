import { describe, expect, it } from 'vitest';
import { ConfigError, loadSettings, type SettingsEnv } from '../../shared/config';

const AZURITE: SettingsEnv = { SLUICE_LAKE: 'UseDevelopmentStorage=true' };
const CLIENT_ID = '0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0';

/** The problems `loadSettings(env)` reports; fails the test if it does not throw a ConfigError. */
function problemsOf(env: SettingsEnv): readonly string[] {
  try {
    loadSettings(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error('expected loadSettings to throw a ConfigError');
}

/** The single problem reported for `env`. */
function problemOf(env: SettingsEnv): string {
  const problems = problemsOf(env);
  expect(problems).toHaveLength(1);
  return problems[0]!;
}

describe('loadSettings defaults', () => {
  it('fills every setting but the lake connection with its documented default', () => {
    const settings = loadSettings(AZURITE);
    expect(settings).toEqual({
      lake: { kind: 'connectionString', setting: 'SLUICE_LAKE', connectionString: 'UseDevelopmentStorage=true' },
      lakeContainer: 'lake',
      landingContainer: 'landing',
      checkpointInterval: 10,
      taskHub: 'SluiceHub',
      pipelines: 'pipelines/*.yaml',
      vacuumRetentionHours: 168,
      optimizeTargetMb: 128,
      optimizeTargetBytes: 128 * 1024 * 1024,
      optimizeMinFiles: 10,
      historyRetentionDays: 30,
      eventsRetentionDays: 90,
      rehydrationPollSeconds: 300,
      rehydrationHoldDays: 7,
      exposeDurableUrls: false,
      poisonAttempts: 5,
      maxRecordMb: 16,
      maxRecordBytes: 16 * 1024 * 1024,
      csvEngine: 'auto',
      metricsRetentionDays: 30,
    });
  });

  it('returns a deeply frozen object', () => {
    const settings = loadSettings(AZURITE);
    expect(Object.isFrozen(settings)).toBe(true);
    expect(Object.isFrozen(settings.lake)).toBe(true);
  });

  it('treats empty and whitespace-only values as unset', () => {
    const settings = loadSettings({ ...AZURITE, SLUICE_LAKE_CONTAINER: '', SLUICE_CHECKPOINT_INTERVAL: '  ' });
    expect(settings.lakeContainer).toBe('lake');
    expect(settings.checkpointInterval).toBe(10);
  });

  it('reads overrides and trims them', () => {
    const settings = loadSettings({
      ...AZURITE,
      SLUICE_LAKE_CONTAINER: 'tables',
      SLUICE_LANDING_CONTAINER: 'inbox-1',
      SLUICE_CHECKPOINT_INTERVAL: ' 25 ',
      SLUICE_TASK_HUB: 'SluiceProd2',
      SLUICE_PIPELINES: 'defs/**/*.yml',
      SLUICE_VACUUM_RETENTION_HOURS: '0',
      SLUICE_OPTIMIZE_TARGET_MB: '256',
      SLUICE_EXPOSE_DURABLE_URLS: 'TRUE',
      SLUICE_POISON_ATTEMPTS: '3',
      SLUICE_MAX_RECORD_MB: '64',
      SLUICE_CSV_ENGINE: 'reader',
      SLUICE_PII_KEY: '  a-long-enough-test-key ',
    });
    expect(settings).toMatchObject({
      lakeContainer: 'tables',
      landingContainer: 'inbox-1',
      checkpointInterval: 25,
      taskHub: 'SluiceProd2',
      pipelines: 'defs/**/*.yml',
      vacuumRetentionHours: 0,
      optimizeTargetMb: 256,
      optimizeTargetBytes: 256 * 1024 * 1024,
      exposeDurableUrls: true,
      poisonAttempts: 3,
      maxRecordMb: 64,
      maxRecordBytes: 64 * 1024 * 1024,
      csvEngine: 'reader',
      piiKey: 'a-long-enough-test-key',
    });
  });
});

describe('loadSettings validation', () => {
  it.each([
    ['SLUICE_CHECKPOINT_INTERVAL', '0', 'whole number 1 or more'],
    ['SLUICE_POISON_ATTEMPTS', '0', 'whole number from 1 to 100'],
    ['SLUICE_CHECKPOINT_INTERVAL', '2.5', 'whole number 1 or more'],
    ['SLUICE_CHECKPOINT_INTERVAL', 'ten', 'whole number 1 or more'],
    ['SLUICE_CHECKPOINT_INTERVAL', '-3', 'whole number 1 or more'],
    ['SLUICE_VACUUM_RETENTION_HOURS', '-1', 'whole number 0 or more'],
    ['SLUICE_VACUUM_RETENTION_HOURS', '7d', 'whole number 0 or more'],
    ['SLUICE_OPTIMIZE_TARGET_MB', '0', 'whole number from 1 to 1024'],
    ['SLUICE_OPTIMIZE_TARGET_MB', '4096', 'whole number from 1 to 1024'],
    ['SLUICE_OPTIMIZE_MIN_FILES', '1', 'whole number from 2 to 100000'],
    ['SLUICE_HISTORY_RETENTION_DAYS', '0', 'whole number from 1 to 3650'],
    ['SLUICE_EVENTS_RETENTION_DAYS', '90d', 'whole number from 1 to 3650'],
    ['SLUICE_EXPOSE_DURABLE_URLS', 'yes', 'true or false'],
    ['SLUICE_MAX_RECORD_MB', '0', 'whole number from 1 to 256'],
    ['SLUICE_MAX_RECORD_MB', '512', 'whole number from 1 to 256'],
    ['SLUICE_MAX_RECORD_MB', '1.5', 'whole number from 1 to 256'],
    ['SLUICE_CSV_ENGINE', 'DuckDB', 'one of auto, duckdb, reader'],
    ['SLUICE_REHYDRATION_POLL_SECONDS', '0', 'whole number from 1 to 86400'],
    ['SLUICE_REHYDRATION_HOLD_DAYS', '400', 'whole number from 0 to 365'],
    ['SLUICE_METRICS_RETENTION_DAYS', '0', 'whole number from 1 to 3650'],
  ])('rejects %s=%s, naming the variable and the expected form', (name, value, expected) => {
    const problem = problemOf({ ...AZURITE, [name]: value });
    expect(problem).toContain(name);
    expect(problem).toContain(expected);
    expect(problem).toContain(`"${value}"`);
  });

  it.each(['ab', 'hub-name', '1Hub', 'Sluice_Hub', 'H'.repeat(46)])('rejects SLUICE_TASK_HUB=%s', (value) => {
    const problem = problemOf({ ...AZURITE, SLUICE_TASK_HUB: value });
    expect(problem).toMatch(/^SLUICE_TASK_HUB must be a Durable task hub name: 3 to 45 letters or digits, starting with a letter/);
  });

  it('accepts task hub names at both length limits', () => {
    expect(loadSettings({ ...AZURITE, SLUICE_TASK_HUB: 'Hub' }).taskHub).toBe('Hub');
    expect(loadSettings({ ...AZURITE, SLUICE_TASK_HUB: 'H'.repeat(45) }).taskHub).toBe('H'.repeat(45));
  });

  it.each(['Lake', 'la', 'my--lake', '-lake', 'lake-', 'lake_1', 'x'.repeat(64)])('rejects container name %s', (value) => {
    const problem = problemOf({ ...AZURITE, SLUICE_LAKE_CONTAINER: value });
    expect(problem).toMatch(/^SLUICE_LAKE_CONTAINER must be a blob container name/);
  });

  it('rejects a landing container that is the lake container', () => {
    const problem = problemOf({ ...AZURITE, SLUICE_LANDING_CONTAINER: 'lake' });
    expect(problem).toContain('SLUICE_LANDING_CONTAINER and SLUICE_LAKE_CONTAINER must name different containers');
  });

  it('collects every problem into one ConfigError whose message lists them all', () => {
    const env = { SLUICE_CHECKPOINT_INTERVAL: 'x', SLUICE_TASK_HUB: 'a-b', SLUICE_OPTIMIZE_TARGET_MB: '0' };
    let caught: unknown;
    try {
      loadSettings(env);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const error = caught as ConfigError;
    expect(error.name).toBe('ConfigError');
    expect(error.problems).toHaveLength(4);
    expect(error.message).toMatch(/^sluice config: 4 problems in settings:\n/);
    for (const name of ['SLUICE_LAKE ', 'SLUICE_CHECKPOINT_INTERVAL', 'SLUICE_TASK_HUB', 'SLUICE_OPTIMIZE_TARGET_MB']) {
      expect(error.message).toContain(name);
    }
  });
});

describe('lake connection', () => {
  it('reports a missing lake connection, naming SLUICE_LAKE and its identity form', () => {
    const problem = problemOf({});
    expect(problem).toMatch(/^SLUICE_LAKE is not set/);
    expect(problem).toContain('SLUICE_LAKE__accountName');
    expect(problem).toContain('AzureWebJobsStorage');
  });

  it('accepts a full connection string without echoing it in errors', () => {
    const connectionString = 'DefaultEndpointsProtocol=https;AccountName=stlake;AccountKey=c2VjcmV0;EndpointSuffix=core.windows.net';
    expect(loadSettings({ SLUICE_LAKE: connectionString }).lake).toEqual({
      kind: 'connectionString',
      setting: 'SLUICE_LAKE',
      connectionString,
    });
    const problem = problemOf({ SLUICE_LAKE: 'DefaultEndpointsProtocol=https;AccountName=stlake;EndpointSuffix=core.windows.net' });
    expect(problem).toMatch(/^SLUICE_LAKE must be an Azure Storage connection string/);
    expect(problem).toContain('neither AccountKey nor SharedAccessSignature');
    expect(problem).not.toContain('EndpointSuffix=core');
  });

  it('accepts a SAS connection string with only a blob endpoint', () => {
    const lake = loadSettings({ SLUICE_LAKE: 'BlobEndpoint=https://stlake.blob.core.windows.net;SharedAccessSignature=sv=2024&sig=abc' }).lake;
    expect(lake.kind).toBe('connectionString');
  });

  it('points at the identity form when SLUICE_LAKE holds a bare account name', () => {
    const problem = problemOf({ SLUICE_LAKE: 'stlake' });
    expect(problem).toMatch(/^SLUICE_LAKE must be an Azure Storage connection string/);
    expect(problem).toContain('__accountName');
  });

  it('derives endpoints from SLUICE_LAKE__accountName', () => {
    const lake = loadSettings({
      SLUICE_LAKE__accountName: 'stlake01',
      SLUICE_LAKE__credential: 'managedidentity',
      SLUICE_LAKE__clientId: CLIENT_ID,
    }).lake;
    expect(lake).toEqual({
      kind: 'identity',
      setting: 'SLUICE_LAKE',
      accountName: 'stlake01',
      blobServiceUri: 'https://stlake01.blob.core.windows.net',
      tableServiceUri: 'https://stlake01.table.core.windows.net',
      credential: 'managedidentity',
      clientId: CLIENT_ID,
    });
  });

  it('prefers SLUICE_LAKE__blobServiceUri and uses the developer credential when none is named', () => {
    const lake = loadSettings({ SLUICE_LAKE__blobServiceUri: 'https://stlake02.blob.core.usgovcloudapi.net/' }).lake;
    expect(lake).toEqual({
      kind: 'identity',
      setting: 'SLUICE_LAKE',
      accountName: 'stlake02',
      blobServiceUri: 'https://stlake02.blob.core.usgovcloudapi.net',
      tableServiceUri: 'https://stlake02.table.core.usgovcloudapi.net',
      credential: 'default',
    });
  });

  it('accepts an http loopback endpoint (Azurite) and does not invent a table endpoint for it', () => {
    const lake = loadSettings({ SLUICE_LAKE__serviceUri: 'http://127.0.0.1:10000/devstoreaccount1' }).lake;
    expect(lake).toEqual({
      kind: 'identity',
      setting: 'SLUICE_LAKE',
      blobServiceUri: 'http://127.0.0.1:10000/devstoreaccount1',
      credential: 'default',
    });
  });

  it.each([
    [{ SLUICE_LAKE__accountName: 'St-Lake' }, /^SLUICE_LAKE__accountName must be a storage account name/],
    [{ SLUICE_LAKE__blobServiceUri: 'stlake.blob.core.windows.net' }, /^SLUICE_LAKE__blobServiceUri must be an absolute URL/],
    [{ SLUICE_LAKE__blobServiceUri: 'http://stlake.blob.core.windows.net' }, /^SLUICE_LAKE__blobServiceUri must be an https:\/\/ URL/],
    [{ SLUICE_LAKE__accountName: 'stlake', SLUICE_LAKE__tableServiceUri: 'ftp://x' }, /^SLUICE_LAKE__tableServiceUri must be an https:\/\/ URL/],
    [{ SLUICE_LAKE__accountName: 'stlake', SLUICE_LAKE__credential: 'clientsecret' }, /^SLUICE_LAKE__credential must be "managedidentity"/],
    [{ SLUICE_LAKE__accountName: 'stlake', SLUICE_LAKE__clientId: 'my-identity' }, /^SLUICE_LAKE__clientId must be the client ID \(a GUID\)/],
    [
      { SLUICE_LAKE__clientId: CLIENT_ID },
      /^SLUICE_LAKE identity-based connection needs SLUICE_LAKE__accountName or SLUICE_LAKE__blobServiceUri; only SLUICE_LAKE__clientId is set/,
    ],
    [
      { SLUICE_LAKE__accountName: 'stlake', SLUICE_LAKE__accountname: 'stlake' },
      /^SLUICE_LAKE__accountname is not a recognised setting; did you mean SLUICE_LAKE__accountName\?/,
    ],
    [{ SLUICE_LAKE__accountName: 'stlake', SLUICE_LAKE__endpoint: 'x' }, /^SLUICE_LAKE__endpoint is not a recognised setting; expected one of/],
  ])('rejects identity settings %j', (env, expected) => {
    expect(problemOf(env)).toMatch(expected);
  });

  it('does not echo a SAS token given as a service URI', () => {
    const problem = problemOf({ SLUICE_LAKE__blobServiceUri: 'https://stlake.blob.core.windows.net/?sv=2024&sig=secret' });
    expect(problem).toMatch(/^SLUICE_LAKE__blobServiceUri must be a service URL without query string/);
    expect(problem).not.toContain('secret');
  });

  it('rejects both forms at once', () => {
    const problem = problemOf({ SLUICE_LAKE: 'UseDevelopmentStorage=true', SLUICE_LAKE__accountName: 'stlake' });
    expect(problem).toBe('SLUICE_LAKE is set as a connection string and SLUICE_LAKE__accountName as an identity-based connection; set only one form');
  });

  it('falls back to an AzureWebJobsStorage connection string', () => {
    const lake = loadSettings({ AzureWebJobsStorage: 'UseDevelopmentStorage=true' }).lake;
    expect(lake).toEqual({ kind: 'connectionString', setting: 'AzureWebJobsStorage', connectionString: 'UseDevelopmentStorage=true' });
  });

  it('falls back to identity-based AzureWebJobsStorage, tolerating host-only keys', () => {
    const lake = loadSettings({
      AzureWebJobsStorage__accountName: 'sthost01',
      AzureWebJobsStorage__credential: 'managedidentity',
      AzureWebJobsStorage__clientId: CLIENT_ID,
      AzureWebJobsStorage__managedIdentityResourceId: '/subscriptions/x',
    }).lake;
    expect(lake).toMatchObject({
      kind: 'identity',
      setting: 'AzureWebJobsStorage',
      accountName: 'sthost01',
      blobServiceUri: 'https://sthost01.blob.core.windows.net',
      credential: 'managedidentity',
      clientId: CLIENT_ID,
    });
  });

  it('prefers SLUICE_LAKE over AzureWebJobsStorage', () => {
    const lake = loadSettings({ SLUICE_LAKE__accountName: 'stlake', AzureWebJobsStorage: 'UseDevelopmentStorage=true' }).lake;
    expect(lake).toMatchObject({ kind: 'identity', setting: 'SLUICE_LAKE', accountName: 'stlake' });
  });

  it('reports a bad AzureWebJobsStorage fallback under its own name', () => {
    expect(problemOf({ AzureWebJobsStorage: 'nonsense' })).toMatch(/^AzureWebJobsStorage must be an Azure Storage connection string/);
  });
});
