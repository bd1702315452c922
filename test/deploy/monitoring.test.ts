/**
 * The monitoring part of the deployment, read as text (no Bicep compiler here): the alert rules and
 * their action group, the settings of the metrics timer, host.json's OpenTelemetry mode, and the
 * metric names the rules query against the names the code emits.
 */
import { readFileSync } from 'node:fs';
import * as nodePath from 'node:path';
import { describe, expect, it } from 'vitest';
import { METRICS } from '../../shared/monitoring';

const ROOT = nodePath.resolve(__dirname, '..', '..');
const read = (path: string) => readFileSync(nodePath.join(ROOT, path), 'utf8');

describe('infra: monitoring', () => {
  const alerts = read('infra/app/alerts.bicep');
  const main = read('infra/main.bicep');

  it('deploys the alerts module from main.bicep with the e-mail as a parameter azd fills', () => {
    expect(main).toMatch(/module alerts 'app\/alerts\.bicep'/);
    expect(main).toMatch(/param alertEmail string = ''/);
    expect(main).toMatch(/alertEmail: alertEmail/);
    expect(JSON.parse(read('infra/main.parameters.json')).parameters.alertEmail.value).toBe('${SLUICE_ALERT_EMAIL=}');
  });

  it('sends every rule to one action group whose e-mail receiver is the parameter', () => {
    expect(alerts).toMatch(/resource actionGroup 'Microsoft\.Insights\/actionGroups@/);
    expect(alerts).toMatch(/emailAddress: alertEmail/);
    expect(alerts).toMatch(/resource alertRules 'Microsoft\.Insights\/scheduledQueryRules@[\d-]+' = \[\s*for rule in rules/);
    expect(alerts).toMatch(/actionGroups: \[\s*actionGroup\.id\s*\]/);
    expect(alerts).toMatch(/scopes: \[\s*applicationInsights\.id\s*\]/);
  });

  it('has rules for objective breaches, failed table updates and dead letters, on the metric names the code emits', () => {
    const names = [...alerts.matchAll(/name: '([a-z-]+)'\n\s+displayName/g)].map((m) => m[1]);
    expect(names).toEqual(['objective-breached', 'table-update-failed', 'rows-dead-lettered']);
    const queried = [...alerts.matchAll(/name == "(sluice\.[A-Za-z.]+)"/g)].map((m) => m[1]);
    expect(queried).toEqual(['sluice.objective.breaches', 'sluice.table.updates', `sluice.${METRICS.deadLetteredRows}`]);
    expect(read('shared/monitoring/telemetry.ts')).toContain("'sluice.objective.breaches'");
    expect(read('shared/run/activities.ts')).toContain("'sluice.table.updates'");
    expect(read('shared/run/activities.ts')).toMatch(/countUpdate\(input, 'failed'\)/);
  });

  it('ships a workbook with the dashboard views, querying only metrics the code emits', () => {
    const workbook = read('infra/app/workbook.bicep');
    expect(main).toMatch(/module workbook 'app\/workbook\.bicep'/);
    expect(main).toMatch(/applicationInsightsName: monitoring\.outputs\.applicationInsightsName/);
    expect(workbook).toMatch(/resource workbook 'Microsoft\.Insights\/workbooks@[\d-]+'/);
    expect(workbook).toMatch(/kind: 'shared'/);
    expect(workbook).toMatch(/sourceId: applicationInsights\.id/);
    expect(workbook).toMatch(/serializedData: string\(content\)/);
    const titles = [...workbook.matchAll(/title: '([^']+)'/g)].map((m) => m[1]);
    expect(titles.length).toBeGreaterThanOrEqual(7);
    for (const view of [
      'Freshness',
      'Rows per table',
      'updates by status',
      'Quarantined and dropped',
      'Objective breaches',
      'dead-lettered',
      'Runs',
      'Storage',
    ])
      expect(
        titles.some((t) => t.toLowerCase().includes(view.toLowerCase())),
        view,
      ).toBe(true);
    // Every metric a view queries is one the app emits: a timer gauge, or a counter of the code.
    const emitted = new Set([
      ...Object.values(METRICS).map((m) => `sluice.${m}`),
      'sluice.objective.breaches',
      'sluice.table.updates',
      'sluice.table.quarantinedRows',
      'sluice.table.droppedRows',
    ]);
    const queried = [...workbook.matchAll(/"(sluice\.[A-Za-z.]+)"/g)].map((m) => m[1]);
    expect(queried.filter((name) => name !== 'sluice.run' && !emitted.has(name))).toEqual([]);
    for (const counter of ['sluice.table.quarantinedRows', 'sluice.table.droppedRows']) expect(read('shared/run/activities.ts')).toContain(`'${counter}'`);
    expect(read('shared/monitoring/telemetry.ts')).toContain("startSpan('sluice.run'");
  });

  it('sets the metrics timer settings on the Function App', () => {
    const app = read('infra/app/function-app.bicep');
    expect(app).toMatch(/SLUICE_METRICS_SCHEDULE: metricsSchedule/);
    expect(app).toMatch(/SLUICE_METRICS_RETENTION_DAYS: string\(metricsRetentionDays\)/);
    expect(main).toMatch(/metricsRetentionDays: metricsRetentionDays/);
  });

  it('runs the Functions host in OpenTelemetry mode, and the app exports when Application Insights is configured', () => {
    expect(JSON.parse(read('host.json')).telemetryMode).toBe('OpenTelemetry');
    expect(read('infra/app/function-app.bicep')).toMatch(/APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsightsConnectionString/);
    expect(
      read('functions/index.ts')
        .split('\n')
        .find((l) => l.startsWith('import')),
    ).toBe("import './telemetry';");
  });
});
