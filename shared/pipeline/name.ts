/**
 * The name a pipeline is addressed by (run instance ids, the HTTP API, the CLI, the duplicate check at
 * start-up): a property of the definition, so every folder that needs it asks the pipeline folder.
 */
import * as nodePath from 'node:path';
import type { PipelineDefinition } from './types';

/**
 * The name a pipeline is addressed by: its `name:`, else its file name without the extension.
 *
 * @param definition the definition
 * @returns the name
 */
export function pipelineName(definition: PipelineDefinition): string {
  if (definition.name) return definition.name;
  if (definition.file) return nodePath.basename(definition.file).replace(/\.(ya?ml|json)$/i, '');
  throw new Error('pipeline definition has neither a name nor a file; give it `name:`');
}
