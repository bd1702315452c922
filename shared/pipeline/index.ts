/** Pipeline definitions: load and validate `pipelines/*.yaml`, route landing blobs to their source. */
export {
  DEFAULT_PARTITION_BY,
  DLT_EVOLUTION_ALIASES,
  isReservedName,
  loadPipelineDefinition,
  normaliseLanding,
  normaliseTypeName,
  ON_VIOLATION,
  parsePipelineDefinition,
  parseSchemaEvolution,
  parseSchemaHints,
  PipelineDefinitionError,
  routeBlob,
  SCHEMA_EVOLUTION_MODES,
  SOURCE_COMPRESSIONS,
  SOURCE_FORMATS,
  sourceNamed,
  tableNamed,
  validatePipelineDefinition,
} from './definition';
export { pipelineName } from './name';
export type {
  DefinitionProblem,
  EventHubSource,
  PipelineDefinition,
  SchemaEvolutionMode,
  SourceDefinition,
  TableDefinition,
} from './definition';
