/**
 * The pipeline definitions an app serves: the files `SLUICE_PIPELINES` names (a path or a glob,
 * relative to the app root), loaded and validated at start-up, then checked against each other,
 * because routing spans all of them: every landing blob and every Event Hub must belong to exactly
 * one source, and every bronze table to one source.
 *
 * Loading is synchronous on purpose: the Functions entry point is CommonJS and must stop the app
 * while it loads when a definition is wrong, with the file, YAML path and line in the message.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import * as nodePath from 'node:path';
import { ConfigError } from '../config/settings';
import { parsePipelineDefinition, PipelineDefinition, SourceDefinition } from '../pipeline';
import { pipelineName } from '../pipeline/name';

/** Default of `SLUICE_PIPELINES`, matching shared/config. */
export const DEFAULT_PIPELINES = 'pipelines/*.yaml';

/**
 * The app root: the nearest folder above this module holding a package.json (the repository when
 * run from source, `wwwroot` in Azure, where the compiled module sits under `dist/`).
 *
 * @param from where to start (default: this module's folder)
 * @returns the absolute folder
 */
export function appRoot(from: string = __dirname): string {
  for (let dir = nodePath.resolve(from); ; dir = nodePath.dirname(dir)) {
    if (existsSync(nodePath.join(dir, 'package.json'))) return dir;
    if (nodePath.dirname(dir) === dir) return process.cwd();
  }
}

/**
 * Files matching a path or glob (`*` and `?` within a segment, `**` for any depth), sorted.
 *
 * @param pattern the path or glob, relative to `root` or absolute
 * @param root folder relative patterns start from
 * @returns absolute paths of the matching files
 */
export function matchFiles(pattern: string, root: string): string[] {
  const absolute = nodePath.resolve(root, pattern).split(nodePath.sep).join('/');
  const segments = absolute.split('/');
  const firstGlob = segments.findIndex((s) => /[*?]/.test(s));
  if (firstGlob < 0) return existsSync(absolute) && statSync(absolute).isFile() ? [nodePath.normalize(absolute)] : [];
  const base = segments.slice(0, firstGlob).join('/') || '/';
  const out: string[] = [];
  walk(base, segments.slice(firstGlob), out);
  return out.sort();
}

function walk(dir: string, rest: string[], out: string[]): void {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) return;
  const [head, ...tail] = rest;
  if (head === '**') {
    walk(dir, tail, out);
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory() && !entry.name.startsWith('.') && entry.name !== 'node_modules') walk(nodePath.join(dir, entry.name), rest, out);
    }
    return;
  }
  const matcher = new RegExp(
    `^${head
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '[^/]*')
      .replace(/\?/g, '[^/]')}$`,
  );
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (!matcher.test(entry.name)) continue;
    const full = nodePath.join(dir, entry.name);
    if (tail.length === 0) {
      if (entry.isFile()) out.push(full);
    } else if (entry.isDirectory()) walk(full, tail, out);
  }
}

/**
 * Load every definition `SLUICE_PIPELINES` names and check them against each other.
 *
 * @param pattern the setting's value (path or glob)
 * @param root app root relative patterns start from
 * @param explicit whether the setting was set (a default that matches nothing is not an error)
 * @returns the definitions, in file order
 * @throws ConfigError naming SLUICE_PIPELINES and, for invalid definitions, each file's problems
 */
export function loadPipelines(pattern: string, root: string, explicit: boolean): PipelineDefinition[] {
  const files = matchFiles(pattern, root);
  if (files.length === 0) {
    if (explicit) throw new ConfigError([`SLUICE_PIPELINES "${pattern}" matches no file (relative to ${root})`]);
    return [];
  }
  const problems: string[] = [];
  const pipelines: PipelineDefinition[] = [];
  for (const file of files) {
    try {
      pipelines.push(parsePipelineDefinition(readFileSync(file, 'utf8'), nodePath.relative(root, file) || file));
    } catch (err) {
      problems.push(`SLUICE_PIPELINES: ${(err as Error).message}`);
    }
  }
  if (problems.length) throw new ConfigError(problems);
  checkPipelines(pipelines);
  return pipelines;
}

/**
 * Check definitions against each other: pipeline names must be unique, landing folders must not
 * overlap, bronze tables and Event Hub readers must not be shared between sources of different files,
 * and no silver/gold table may be written by two pipelines.
 *
 * @param pipelines loaded definitions (each already valid on its own)
 * @throws ConfigError naming both sides (source or table, and file) of every clash
 */
export function checkPipelines(pipelines: readonly PipelineDefinition[]): void {
  const problems: string[] = [];
  const all = pipelines.flatMap((p) => Object.values(p.sources).map((source) => ({ source, file: p.file ?? p.name ?? '(definition)' })));
  const where = (e: { source: SourceDefinition; file: string }) => `sources.${e.source.name} of ${e.file}`;
  for (let i = 0; i < all.length; i++) {
    for (let j = 0; j < i; j++) {
      const a = all[j];
      const b = all[i];
      if (a.file === b.file) continue; // the definition loader checked sources of one file
      if (
        a.source.landing !== undefined &&
        b.source.landing !== undefined &&
        (a.source.landing.startsWith(b.source.landing) || b.source.landing.startsWith(a.source.landing))
      ) {
        problems.push(
          `SLUICE_PIPELINES: landing "${b.source.landing || '/'}" of ${where(b)} overlaps "${a.source.landing || '/'}" of ${where(a)}; every landing file must belong to exactly one source`,
        );
      }
      if (a.source.table === b.source.table)
        problems.push(`SLUICE_PIPELINES: table ${b.source.table} of ${where(b)} is already written by ${where(a)}; each source needs its own bronze table`);
    }
  }
  // Runs are addressed by pipeline name (instance refresh-<name>), and two pipelines writing one
  // table would each apply their own sources' versions to it.
  const named = new Map<string, string>();
  const written = new Map<string, string>(all.map((e) => [e.source.table, where(e)]));
  for (const p of pipelines) {
    const file = p.file ?? p.name ?? '(definition)';
    const name = pipelineName(p);
    const other = named.get(name);
    if (other) problems.push(`SLUICE_PIPELINES: pipeline name "${name}" of ${file} is already used by ${other}; every pipeline needs its own name`);
    else named.set(name, file);
    for (const table of Object.values(p.tables)) {
      const writer = written.get(table.table);
      const here = `tables.${table.name} of ${file}`;
      // Clashes within one file were reported by its own loader.
      if (writer && !writer.endsWith(` of ${file}`))
        problems.push(`SLUICE_PIPELINES: table ${table.table} of ${here} is already written by ${writer}; each table belongs to one pipeline`);
      else if (!writer) written.set(table.table, here);
    }
  }
  const hubs = new Map<string, string>();
  for (const e of all) {
    if (!e.source.eventHub) continue;
    // Event Hub names are case-insensitive; the app reads a hub with one consumer group.
    const key = e.source.eventHub.name.toLowerCase();
    const other = hubs.get(key);
    if (other) problems.push(`SLUICE_PIPELINES: Event Hub ${e.source.eventHub.name} is read by ${where(e)} and by ${other}; one source per Event Hub`);
    else hubs.set(key, where(e));
  }
  if (problems.length) throw new ConfigError(problems);
}
