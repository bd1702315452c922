/**
 * Lineage out of the run: column lineage derived from a table's SQL, and OpenLineage run events of
 * table updates with the emitters that send them (HTTP endpoint, blob container).
 */
export { columnLineage, tablesColumnLineage, viewNames } from './columns';
export type { ColumnInput, ColumnLineageEntry, ColumnTransformation, InputColumns, TableColumnLineage } from './columns';
export { datasetNamespace, nameUuid, OPENLINEAGE_SCHEMA_URL, SLUICE_PRODUCER, tableRunEvent } from './openlineage';
export type { DatasetInfo, OpenLineageDataset, OpenLineageRunEvent, RunEventType, TableRunEventInput } from './openlineage';
export { BlobEventSink, eventBlobPath, HttpEventSink, OPENLINEAGE_HTTP_TIMEOUT_MS, OpenLineageEmitter } from './emitters';
export type { EmitterStats, LineageEventSink } from './emitters';
export { OpenLineageReporter } from './table-runs';
export type { TableRunContext, TableRunReporter } from './table-runs';
export { openLineageReporter } from './configure';
