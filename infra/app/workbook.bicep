// An Azure Monitor workbook with the dashboard's views (GET /api/dashboard), for those who live in the
// portal. It reads what the app exports to Application Insights through OpenTelemetry: the metrics
// timer's gauges `sluice.<metric>` (shared/monitoring/telemetry.ts: attributes table and pipeline,
// `tier` for bytes), the counters of table updates (shared/run/activities.ts) and of objective
// breaches, and the `sluice.run` spans. Expectation pass rates are judged by the timer against the
// `minPassRate` objectives (the breaches view); their per-update values stay in SluiceMetrics. test/deploy/monitoring.test.ts checks that every metric queried
// here is one the code emits.

param location string
param tags object = {}
param applicationInsightsName string

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

// One view per dashboard panel: a title and a KQL query over the last day, drawn as a table or chart.
var views = [
  {
    title: 'Freshness per table (seconds since the last commit that wrote rows)'
    query: 'customMetrics | where timestamp > ago(1d) and name == "sluice.freshnessSeconds" | extend table = tostring(customDimensions.table), pipeline = tostring(customDimensions.pipeline) | summarize arg_max(timestamp, value) by pipeline, table | project pipeline, table, freshnessSeconds = value, measured = timestamp | order by freshnessSeconds desc'
    visualization: 'table'
  }
  {
    title: 'Rows per table over time'
    query: 'customMetrics | where timestamp > ago(1d) and name == "sluice.rows" | extend table = tostring(customDimensions.table) | summarize rows = max(value) by bin(timestamp, 5m), table | render timechart'
    visualization: 'timechart'
  }
  {
    title: 'Table updates by status'
    query: 'customMetrics | where timestamp > ago(1d) and name == "sluice.table.updates" | extend table = tostring(customDimensions.table), status = tostring(customDimensions.status) | summarize updates = sum(valueSum) by table, status'
    visualization: 'table'
  }
  {
    title: 'Quarantined and dropped rows'
    query: 'customMetrics | where timestamp > ago(1d) and name in ("sluice.table.quarantinedRows", "sluice.table.droppedRows") | extend table = tostring(customDimensions.table) | summarize rows = sum(valueSum) by table, name'
    visualization: 'table'
  }
  {
    title: 'Objective breaches'
    query: 'customMetrics | where timestamp > ago(1d) and name == "sluice.objective.breaches" | extend table = tostring(customDimensions.table), objective = tostring(customDimensions.objective) | summarize breaches = sum(valueSum) by table, objective'
    visualization: 'table'
  }
  {
    title: 'Rows dead-lettered'
    query: 'customMetrics | where timestamp > ago(1d) and name == "sluice.deadLetteredRows" | extend table = tostring(customDimensions.table) | summarize arg_max(timestamp, value) by table | project table, deadLetteredRows = value'
    visualization: 'table'
  }
  {
    title: 'Runs: outcome and duration'
    query: 'union requests, dependencies | where timestamp > ago(1d) and name == "sluice.run" | project timestamp, pipeline = tostring(customDimensions.pipeline), outcome = tostring(customDimensions.outcome), duration | order by timestamp desc'
    visualization: 'table'
  }
  {
    title: 'Storage by table and tier (bytes)'
    query: 'customMetrics | where timestamp > ago(1d) and name == "sluice.bytes" and isnotempty(tostring(customDimensions.tier)) | extend table = tostring(customDimensions.table), tier = tostring(customDimensions.tier) | summarize arg_max(timestamp, value) by table, tier | project table, tier, bytes = value'
    visualization: 'table'
  }
]

var content = {
  version: 'Notebook/1.0'
  items: concat(
    [
      {
        type: 1
        content: {
          json: '## Sluice\nThe views of the Sluice dashboard, from the telemetry the app sends to Application Insights (the metrics timer runs every 5 minutes).'
        }
        name: 'intro'
      }
    ],
    map(views, (view, i) => {
      type: 3
      content: {
        version: 'KqlItem/1.0'
        query: view.query
        size: 0
        title: view.title
        queryType: 0
        resourceType: 'microsoft.insights/components'
        visualization: view.visualization
      }
      name: 'view-${i}'
    })
  )
  isLocked: false
  fallbackResourceIds: [
    applicationInsights.id
  ]
}

resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  // A workbook's resource name is a GUID; this one is stable per resource group, so provisioning again updates it.
  name: guid(resourceGroup().id, 'sluice-workbook')
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: 'Sluice'
    category: 'workbook'
    sourceId: applicationInsights.id
    serializedData: string(content)
  }
}

output workbookId string = workbook.id
