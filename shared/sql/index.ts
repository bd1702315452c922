/**
 * The SQL engine (DuckDB in-process) for silver/gold transforms and expectations: opening it with
 * bounded memory in a sandboxed run folder, staging Delta data files as views, reading results back as
 * exact Arrow batches, and parsing SQL for the definition checks.
 */
export { quoteIdent, quoteLiteral, SqlEngine, SqlError, sqlOptionsFromEnv, withSqlEngine } from './engine';
export type { SqlColumn, SqlEngineOptions } from './engine';
export { deltaSchemaOf, deltaTypeOf, duckType, sqlLiteral } from './types';
export { stageFiles, StagingError } from './stage';
export type { SourceFile, StagedFile } from './stage';
export { FILE_ID_COLUMN, registerView, ROW_COLUMN } from './source';
export type { ViewSpec } from './source';
export { queryBatches, queryTable } from './results';
export type { ExportOptions } from './results';
export {
  addColumns,
  aggregateFunctions,
  isRowLevel,
  parseQuery,
  partitionExpressions,
  referencedColumns,
  SqlParseError,
  toSql,
  withExpressions,
  withoutTopLevelCasts,
} from './parse';
export type { ExprNode, ParsedQuery, SelectNode } from './parse';
