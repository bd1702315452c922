// Alerts on what the app exports to Application Insights through OpenTelemetry (shared/monitoring,
// functions/telemetry.ts), as log search alert rules over the `customMetrics` table, all sending to one
// action group whose e-mail receiver is a parameter:
//   - an objective of the pipeline YAML breached (counter sluice.objective.breaches, per table and objective);
//   - a table update failed (counter sluice.table.updates with status "failed", per pipeline and table);
//   - new dead-lettered rows (gauge sluice.deadLetteredRows rising within the window, per table).
// The metric names here are the ones shared/monitoring/telemetry.ts and shared/run/activities.ts emit;
// test/deploy/monitoring.test.ts checks that they agree.

param location string
param tags object = {}
param applicationInsightsName string

@description('E-mail receiver of the alerts; empty for none.')
param alertEmail string = ''

@description('How often the rules run, and the window each looks back over.')
param evaluationFrequency string = 'PT5M'
param windowSize string = 'PT15M'

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: 'ag-sluice-${uniqueString(resourceGroup().id)}'
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'sluice'
    enabled: true
    emailReceivers: empty(alertEmail)
      ? []
      : [
          {
            name: 'operator'
            emailAddress: alertEmail
            useCommonAlertSchema: true
          }
        ]
  }
}

var rules = [
  {
    name: 'objective-breached'
    displayName: 'Sluice: objective breached'
    description: 'A freshness, pass-rate or dead-letter objective of the pipeline YAML was not met at a metrics timer run.'
    severity: 2
    query: 'customMetrics | where name == "sluice.objective.breaches" | extend table = tostring(customDimensions.table), objective = tostring(customDimensions.objective), pipeline = tostring(customDimensions.pipeline) | summarize breaches = sum(valueSum) by pipeline, table, objective | where breaches > 0'
    dimensions: ['pipeline', 'table', 'objective']
  }
  {
    name: 'table-update-failed'
    displayName: 'Sluice: table update failed'
    description: 'A silver or gold table update of a pipeline run failed.'
    severity: 1
    query: 'customMetrics | where name == "sluice.table.updates" and tostring(customDimensions.status) == "failed" | extend table = tostring(customDimensions.table), pipeline = tostring(customDimensions.pipeline) | summarize failures = sum(valueSum) by pipeline, table | where failures > 0'
    dimensions: ['pipeline', 'table']
  }
  {
    name: 'rows-dead-lettered'
    displayName: 'Sluice: rows dead-lettered'
    description: 'Rows of landing files or events were set aside in dead-letter records since the window began.'
    severity: 3
    query: 'customMetrics | where name == "sluice.deadLetteredRows" | extend table = tostring(customDimensions.table), pipeline = tostring(customDimensions.pipeline) | summarize newRows = max(value) - min(value) by pipeline, table | where newRows > 0'
    dimensions: ['pipeline', 'table']
  }
]

resource alertRules 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = [
  for rule in rules: {
    name: 'sluice-${rule.name}'
    location: location
    tags: tags
    kind: 'LogAlert'
    properties: {
      displayName: rule.displayName
      description: rule.description
      severity: rule.severity
      enabled: true
      scopes: [
        applicationInsights.id
      ]
      evaluationFrequency: evaluationFrequency
      windowSize: windowSize
      criteria: {
        allOf: [
          {
            query: rule.query
            timeAggregation: 'Count'
            operator: 'GreaterThan'
            threshold: 0
            dimensions: [
              for d in rule.dimensions: {
                name: d
                operator: 'Include'
                values: ['*']
              }
            ]
            failingPeriods: {
              numberOfEvaluationPeriods: 1
              minFailingPeriodsToAlert: 1
            }
          }
        ]
      }
      autoMitigate: true
      actions: {
        actionGroups: [
          actionGroup.id
        ]
      }
    }
  }
]

output actionGroupId string = actionGroup.id
output alertRuleNames array = [for (rule, i) in rules: alertRules[i].name]
