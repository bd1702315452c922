/** Pipeline definitions: the model, loading and validation of `pipelines/*.yaml`, schema hints, blob routing. */
export {
  CSV_ENCODINGS,
  DEFINITION_KEYS,
  loadPipelineDefinition,
  parsePipelineDefinition,
  parseSchemaEvolution,
  validatePipelineDefinition,
} from './definition';
export { normaliseTypeName, parseSchemaHints } from './hints';
export { isReservedName, sourceNamed, tableNamed } from './names';
export { normaliseLanding, routeBlob } from './routing';
// The model and its vocabularies are the folder's contract: all of it is public.
export * from './types';
export { pipelineName } from './name';
export { checkObjectives, OBJECTIVE_KEYS, parseDuration } from './objectives';
export type { Objectives } from './objectives';
