/**
 * `sluice catalog list|show|search|rebuild`: the catalog of the lake the app's settings name (the
 * `SluiceCatalog` table of the lake account), as `GET /api/catalog/tables[/{path}]` serves it. The
 * stage functions are shared/catalog's; `rebuild` scans the lake container and reads the served
 * pipelines (`SLUICE_PIPELINES`) for descriptions, owners, tags, comments and PII classification.
 */
import { Catalog, CatalogStore, rebuildCatalog, showTableResponse, type CatalogEntry, type CatalogFilter, type CatalogSummary } from '../shared/catalog';
import { appRoot, loadRuntime, runtimeCatalog } from '../shared/host';
import { openLakeStore, openLakeTables } from '../shared/storage/lake';
import { CATALOG_TABLE } from '../shared/storage/lake-layout';
import { parseCommandLine, UsageError } from '../shared/command-line/usage';
import type { Io } from './ingest';
import { lakeEnv, lakeSettings } from './pipeline';

/** Help text of the catalog commands (part of `sluice --help`). */
export const CATALOG_HELP = `  catalog list         every table of the lake's catalog, one line each: path, status, version, rows,
                       bytes, last commit, owner, tags (kept current by the tables' commits)
      --layer <layer>  --tag <tag>  --owner <owner>   only tables matching all of these
      --json               { tables: [{ path, status, layer, name, pipeline, version, rows, files, bytes,
                           lastCommit, owner, tags, description, reason, missingSince }] }
  catalog show <path>  one table by its path in the lake container (e.g. silver/sales): location,
                       protocol, version, counts, owner, tags, description, schema with comments and PII
                       classification, and schema history (which version added or changed which column)
      --json               the entry, as GET /api/catalog/tables/{path} answers it
  catalog search <text>  tables whose name, path, columns, description, column comments or tags hold
                       every word of <text>; takes --layer, --tag, --owner and --json as list does
  catalog rebuild      scan the lake container and write every table's entry again: Delta tables
                       (described from their whole log), folders of files that are not Delta tables and
                       tables of a refused protocol (with the reason), and tables no longer found
                       (marked missing). For a lake that existed before the catalog
      --json               { tables, notDelta, refused, unreadable, missing }
  The catalog commands use the app's lake settings, as the pipeline commands do.
`;

const OPTIONS = {
  layer: { type: 'string' },
  tag: { type: 'string' },
  owner: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/**
 * Run `sluice catalog …`.
 *
 * @param argv the arguments after `catalog`
 * @param io output sinks
 * @param env the environment (settings)
 * @returns the exit status
 */
export async function runCatalogCommand(argv: string[], io: Io, env: Record<string, string | undefined> = process.env): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, OPTIONS);
  if (values.help) {
    io.out(CATALOG_HELP);
    return 0;
  }
  const [sub, ...rest] = positionals;
  const allow = (...names: string[]) => {
    for (const key of Object.keys(values))
      if (key !== 'help' && !names.includes(key)) throw new UsageError(`option --${key} does not apply to 'catalog ${sub}'`);
  };
  const json = values.json === true;
  const filter: CatalogFilter = {
    ...(values.layer ? { layer: values.layer } : {}),
    ...(values.tag ? { tag: values.tag } : {}),
    ...(values.owner ? { owner: values.owner } : {}),
  };
  if (sub === 'list') {
    allow('layer', 'tag', 'owner', 'json');
    if (rest.length)
      throw new UsageError(`'catalog list' takes no arguments (filter with --layer, --tag, --owner; search with 'catalog search'), got ${rest.join(' ')}`);
    return list(readOnlyCatalog(env), filter, json, io);
  }
  if (sub === 'search') {
    allow('layer', 'tag', 'owner', 'json');
    const text = rest.join(' ').trim();
    if (!text) throw new UsageError("'catalog search' needs the text to look for, e.g. sluice catalog search card_number");
    return list(readOnlyCatalog(env), { ...filter, q: text }, json, io);
  }
  if (sub === 'show') {
    allow('json');
    if (rest.length !== 1) throw new UsageError("'catalog show' takes one table path in the lake container, e.g. sluice catalog show silver/sales");
    return show(readOnlyCatalog(env), rest[0], json, io);
  }
  if (sub === 'rebuild') {
    allow('json');
    if (rest.length) throw new UsageError(`'catalog rebuild' takes no arguments, got ${rest.join(' ')}`);
    return rebuild(json, io, env);
  }
  throw new UsageError(`'catalog' needs list, show, search or rebuild, not '${sub ?? ''}'`);
}

/** The catalog of the lake settings, for reading (no pipeline definitions needed). */
function readOnlyCatalog(env: Record<string, string | undefined>): Catalog {
  const settings = lakeSettings(env);
  return new Catalog({
    store: new CatalogStore(openLakeTables(settings.lake)(CATALOG_TABLE)),
    lake: (path) => openLakeStore(settings, path),
    pipelines: () => [],
  });
}

async function list(catalog: Catalog, filter: CatalogFilter, json: boolean, io: Io): Promise<number> {
  const tables = await catalog.list(filter);
  if (json) {
    io.out(JSON.stringify({ tables }, null, 2) + '\n');
    return 0;
  }
  for (const t of tables) io.out(summaryLine(t));
  const filters = Object.entries(filter).map(([k, v]) => `${k === 'q' ? 'matching' : k} ${JSON.stringify(v)}`);
  io.out(`${tables.length} table${tables.length === 1 ? '' : 's'}${filters.length ? ` ${filters.join(', ')}` : ''}\n`);
  return 0;
}

function summaryLine(t: CatalogSummary): string {
  const head = `${t.path}  ${t.status}`;
  if (t.status === 'notDelta' || t.status === 'refused' || t.status === 'unreadable') return `${head}  ${t.reason ?? ''}\n`;
  const counts = [
    t.version === null ? null : `v${t.version}`,
    t.rows === null ? null : `${t.rows} row${t.rows === 1 ? '' : 's'}`,
    t.bytes === null ? null : `${t.bytes} bytes`,
    t.lastCommit ? `committed ${t.lastCommit}` : null,
    t.status === 'missing' && t.missingSince ? `missing since ${t.missingSince}` : null,
  ].filter(Boolean);
  const who = [t.owner ? `owner ${t.owner}` : null, t.tags.length ? `tags ${t.tags.join(', ')}` : null].filter(Boolean);
  return `${head}  ${counts.join(', ')}${who.length ? `\n    ${who.join('; ')}` : ''}\n`;
}

async function show(catalog: Catalog, path: string, json: boolean, io: Io): Promise<number> {
  const answer = await showTableResponse(catalog, path);
  if (answer.status !== 200) {
    io.err(`${(answer.body as { error: string }).error}\n`);
    return 1;
  }
  const e = answer.body as CatalogEntry;
  if (json) {
    io.out(JSON.stringify(e, null, 2) + '\n');
    return 0;
  }
  const row = (label: string, value: unknown) => (value === null || value === undefined || value === '' ? '' : `${label.padEnd(15)}${String(value)}\n`);
  io.out(
    row('table', `${e.path} (${e.name}${e.pipeline ? `, pipeline ${e.pipeline}` : ''})`) +
      row('status', e.reason ? `${e.status}: ${e.reason}` : e.status) +
      row('layer', e.layer) +
      row('location', e.location) +
      row(
        'format',
        e.format && e.protocol ? `${e.format}, reader ${e.protocol.minReaderVersion}, writer ${e.protocol.minWriterVersion}${features(e)}` : e.format,
      ) +
      row('version', e.version) +
      row('last commit', e.lastCommit ? `${e.lastCommit}${e.lastOperation ? ` (${e.lastOperation})` : ''}` : null) +
      row('rows', e.rows) +
      row('files', e.files) +
      row(
        'bytes',
        e.bytes === null
          ? null
          : `${e.bytes}${
              e.bytesByTier
                ? ` (${Object.entries(e.bytesByTier)
                    .map(([tier, n]) => `${tier} ${n}`)
                    .join(', ')})`
                : ''
            }`,
      ) +
      row('partitioned by', e.partitionColumns.join(', ')) +
      row('owner', e.owner) +
      row('tags', e.tags.join(', ')) +
      row('description', e.description) +
      row('missing since', e.missingSince),
  );
  if (e.schema.length) {
    io.out('schema\n');
    for (const c of e.schema) {
      const notes = [
        c.nullable ? null : 'not null',
        c.partition ? 'partition' : null,
        c.classification ? `PII ${c.classification.pii}: ${c.classification.treatment}` : null,
      ]
        .filter(Boolean)
        .join('; ');
      io.out(`  ${c.name}  ${c.type}${notes ? `  [${notes}]` : ''}${c.comment ? `\n      ${c.comment}` : ''}\n`);
    }
  }
  if (e.schemaHistory.length) {
    io.out('schema history\n');
    for (const h of e.schemaHistory) {
      const what = h.change === 'changed' ? `changed ${h.column} ${h.previousType} → ${h.type}` : `${h.change} ${h.column} ${h.type}`;
      io.out(`  v${h.version}${h.exact ? '' : ' (or earlier)'}  ${what}\n`);
    }
  }
  return 0;
}

function features(e: CatalogEntry): string {
  const all = [...(e.protocol?.readerFeatures ?? []), ...(e.protocol?.writerFeatures ?? [])];
  return all.length ? `, features ${[...new Set(all)].join(', ')}` : '';
}

async function rebuild(json: boolean, io: Io, env: Record<string, string | undefined>): Promise<number> {
  const runtime = loadRuntime(lakeEnv(env), appRoot());
  const catalog = runtimeCatalog(runtime);
  const container = openLakeStore(runtime.settings, '');
  const result = await rebuildCatalog(catalog, container, json ? undefined : (entry) => io.out(summaryLine(entry)));
  const { tables, notDelta, refused, unreadable, missing } = result;
  if (json) io.out(JSON.stringify({ tables, notDelta, refused, unreadable, missing }, null, 2) + '\n');
  else
    io.out(
      `catalog rebuilt from ${container.url}: ${tables} table${tables === 1 ? '' : 's'}, ${notDelta} not Delta, ${refused} refused, ${unreadable} unreadable, ${missing} missing\n`,
    );
  return 0;
}
