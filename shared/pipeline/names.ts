/**
 * Names in a pipeline that must never reach an object's prototype, and lookups by name that cannot:
 * sources, tables, expectations and hinted columns are keys of plain objects, and a name given by a
 * user (YAML, an HTTP request, a command line) must not find an inherited property.
 */
import type { PipelineDefinition, SourceDefinition, TableDefinition } from './types';

/**
 * Names that, used as keys of a plain object, reach its prototype instead: `sources.__proto__` would
 * replace the prototype of the sources map, and a lookup of `constructor` finds Object's. They match
 * the identifier patterns, so they are refused by name.
 */
const RESERVED_NAMES: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);
/** The end of every message refusing a reserved name. */
export const RESERVED_MESSAGE = `is reserved (${[...RESERVED_NAMES].join(', ')} cannot name anything in a pipeline)`;

/**
 * Whether a name is one of those that reach an object's prototype (`__proto__`, `constructor`,
 * `prototype`), which no source, table, expectation or hinted column may have.
 *
 * @param name a name as written
 * @returns true when reserved
 */
export function isReservedName(name: string): boolean {
  return RESERVED_NAMES.has(name);
}

/**
 * The source of that name, looked up as an own key so that a name given by a user (an HTTP request,
 * a command line) never finds an inherited property.
 *
 * @param definition the pipeline definition
 * @param name the source name
 * @returns the source, or undefined
 */
export function sourceNamed(definition: PipelineDefinition, name: string): SourceDefinition | undefined {
  return Object.hasOwn(definition.sources, name) ? definition.sources[name] : undefined;
}

/**
 * The silver/gold table of that name, looked up as an own key (see sourceNamed).
 *
 * @param definition the pipeline definition
 * @param name the table name, e.g. `silver.sales`
 * @returns the table, or undefined
 */
export function tableNamed(definition: PipelineDefinition, name: string): TableDefinition | undefined {
  return Object.hasOwn(definition.tables, name) ? definition.tables[name] : undefined;
}
