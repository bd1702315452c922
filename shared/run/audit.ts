/**
 * Who started, terminated or purged which run, and when: one record per action taken over the run
 * API, in the event log table (`SluiceEvents`, PartitionKey `audit|<pipeline>`, newest first), served
 * by `GET /api/pipelines/{name}/audit`.
 *
 * Who the caller is:
 * - in Azure with App Service authentication (Easy Auth) enabled, the Entra principal the platform
 *   puts in `X-MS-CLIENT-PRINCIPAL-NAME` / `-ID` / `-IDP` and, base64 JSON, `X-MS-CLIENT-PRINCIPAL`
 *   (App Service sets these and refuses them from clients, so they are the platform's word);
 * - otherwise `key`: a function key says that the caller holds a key, not who the caller is;
 * - on the local host (`npm start`) always `local`: it checks no key and has no authentication, so
 *   headers a caller sends there prove nothing.
 */
import { randomUUID } from 'node:crypto';
import type { TableClient } from '@azure/data-tables';
import { tableCreation } from '../storage/lake';
import type { EventLog } from './event-log';

/** The actions recorded. */
export type AuditAction = 'start' | 'terminate' | 'purge';

/** Who asked. */
export interface AuditCaller {
  /** `entra`: App Service authentication named the caller; `key`: a function key, no identity; `local`: the local host. */
  kind: 'entra' | 'key' | 'local';
  /** The principal's name (`alice@contoso.com`), else its id, else `key` or `local`. */
  principal: string;
  /** Entra object id, when known. */
  principalId: string | null;
  /** Identity provider (`aad`), when known. */
  identityProvider: string | null;
}

/** One recorded action. */
export interface AuditRecord extends AuditCaller {
  pipeline: string;
  action: AuditAction;
  /** When (ISO). */
  at: string;
  instanceId: string;
  /** The run acted on, when known (terminate, purge: the instance's current run). */
  runId: string | null;
  /** The start request's id (its status URL), for `start`. */
  requestId: string | null;
  /** The reason given, for `start` and `terminate`. */
  reason: string | null;
}

/** Most records one request answers. */
export const MAX_AUDIT = 500;
const MAX_TICKS = 9_999_999_999_999;
const KEY_UNSAFE = /[/\\#?\u0000-\u001f\u007f]/g;

let onLocalHost = false;
/** Orders two records of one process written within the same millisecond (newest first, as the time does). */
let sequence = 0;

/**
 * Tell the run API that this process is the local host (dev/host.ts, while it runs): its callers are
 * `local` whatever they send.
 *
 * @param local true from start to stop
 */
export function markLocalHost(local: boolean): void {
  onLocalHost = local;
}

/** Headers as both the Functions `HttpRequest` and a fetch `Headers` offer them. */
export interface HeaderSource {
  get(name: string): string | null;
}

/**
 * Who made a request.
 *
 * @param headers the request's headers
 * @returns the caller
 */
export function callerOf(headers: HeaderSource): AuditCaller {
  if (onLocalHost) return { kind: 'local', principal: 'local', principalId: null, identityProvider: null };
  const decoded = decodePrincipal(headers.get('x-ms-client-principal'));
  const name = clean(headers.get('x-ms-client-principal-name')) ?? decoded.name;
  const id = clean(headers.get('x-ms-client-principal-id')) ?? decoded.id;
  const idp = clean(headers.get('x-ms-client-principal-idp')) ?? decoded.idp;
  if (!name && !id) return { kind: 'key', principal: 'key', principalId: null, identityProvider: null };
  return { kind: 'entra', principal: (name ?? id)!, principalId: id, identityProvider: idp };
}

function clean(value: string | null | undefined): string | null {
  const text = value?.trim();
  return text ? text.slice(0, 256) : null;
}

/** Claim types naming the caller, in order of preference, and its object id. */
const NAME_CLAIMS = ['preferred_username', 'name', 'upn', 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn', 'email'];
const ID_CLAIMS = ['http://schemas.microsoft.com/identity/claims/objectidentifier', 'oid'];

/** The name, object id and provider in `X-MS-CLIENT-PRINCIPAL` (base64 JSON `{ auth_typ, claims: [{ typ, val }], name_typ }`). */
function decodePrincipal(header: string | null): { name: string | null; id: string | null; idp: string | null } {
  const none = { name: null, id: null, idp: null };
  if (!header) return none;
  try {
    const value = JSON.parse(Buffer.from(header, 'base64').toString('utf8')) as { auth_typ?: unknown; name_typ?: unknown; claims?: unknown };
    const claims = Array.isArray(value.claims) ? (value.claims as { typ?: unknown; val?: unknown }[]) : [];
    const claim = (types: unknown[]) => {
      for (const type of types) {
        const found = claims.find((c) => c.typ === type && typeof c.val === 'string');
        if (found) return clean(found.val as string);
      }
      return null;
    };
    return { name: claim([value.name_typ, ...NAME_CLAIMS]), id: claim(ID_CLAIMS), idp: typeof value.auth_typ === 'string' ? clean(value.auth_typ) : null };
  } catch {
    // A header that does not decode names nobody; the other headers may still.
    return none;
  }
}

/** The audit records, beside the event log's. */
export class AuditLog {
  private readonly ensure: () => Promise<void>;

  /** @param client the event log's table client */
  constructor(readonly client: TableClient) {
    this.ensure = tableCreation(client);
  }

  /**
   * Record an action.
   *
   * @param record what was done, by whom
   */
  async record(record: AuditRecord): Promise<void> {
    await this.ensure();
    const inverted = String(MAX_TICKS - Date.parse(record.at)).padStart(13, '0');
    await this.client.createEntity({
      partitionKey: partitionOf(record.pipeline),
      rowKey: `${inverted}|${String(MAX_TICKS - ++sequence).padStart(13, '0')}|${randomUUID()}`,
      ...Object.fromEntries(Object.entries(record).filter(([, v]) => v !== null)),
    });
  }

  /**
   * The latest actions on a pipeline's runs, newest first.
   *
   * @param pipeline the pipeline name
   * @param limit at most this many
   * @returns the records
   */
  async list(pipeline: string, limit = 50): Promise<AuditRecord[]> {
    await this.ensure();
    const out: AuditRecord[] = [];
    const filter = `PartitionKey eq '${partitionOf(pipeline).replace(/'/g, "''")}'`;
    for await (const e of this.client.listEntities<Record<string, unknown>>({ queryOptions: { filter } })) {
      const text = (k: string) => (typeof e[k] === 'string' ? (e[k] as string) : null);
      out.push({
        pipeline: text('pipeline') ?? pipeline,
        action: text('action') as AuditAction,
        at: text('at')!,
        instanceId: text('instanceId')!,
        runId: text('runId'),
        requestId: text('requestId'),
        reason: text('reason'),
        kind: text('kind') as AuditCaller['kind'],
        principal: text('principal')!,
        principalId: text('principalId'),
        identityProvider: text('identityProvider'),
      });
      if (out.length >= limit) break;
    }
    return out;
  }
}

function partitionOf(pipeline: string): string {
  return `audit|${pipeline}`.replace(KEY_UNSAFE, '_');
}

const logs = new WeakMap<EventLog, AuditLog>();

/**
 * The audit log kept beside an event log (same table).
 *
 * @param events the event log
 * @returns its audit log
 */
export function auditLogOf(events: EventLog): AuditLog {
  let log = logs.get(events);
  if (!log) {
    log = new AuditLog(events.client);
    logs.set(events, log);
  }
  return log;
}
