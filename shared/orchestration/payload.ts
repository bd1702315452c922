/**
 * Large JSON values in Table Storage entities. A string property holds at most 64 KiB (32,768 UTF-16
 * units) and an entity at most 1 MiB, while orchestration inputs, outputs, custom status and activity
 * results can be any size. Each value is stored one of three ways, recorded in `<field>Kind`:
 * - `inline`: in the property `<field>`;
 * - `parts`: split over `<field>0 … <field>N-1` (`<field>Parts` = N), up to the field's chunk budget;
 * - `blob`: in the payload store at `<field>Blob` (the real extension's `<hub>-largemessages`
 *   container plays the same role);
 * - `none`: no value (undefined).
 * The kind is written explicitly so that a Merge update switching a field from `parts` to `inline`
 * leaves stale chunk properties that readers ignore.
 */
import type { ObjectStore } from '../storage/types';

/** UTF-16 units per property: under the service's 32,768 with margin. */
export const PROPERTY_CHARS = 30_000;

/** A value too large for its entity, with no payload store to spill it to. */
export class PayloadTooLargeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PayloadTooLargeError';
  }
}

/** How a field may be stored. */
export interface PayloadTarget {
  /** Most chunks this field may take in its entity (entity budget ÷ fields). */
  maxChunks: number;
  /** Store for values larger than the chunk budget; without one such values are an error. */
  blobs?: ObjectStore;
  /** Blob path to use when the value spills (relative to the payload store). */
  blobPath: string;
  /** What the value is, for messages: e.g. `output of instance "x"`. */
  what: string;
}

/** Entity properties that encode `text` (JSON text) under `field`. */
export async function encodePayload(field: string, text: string | undefined, target: PayloadTarget): Promise<Record<string, unknown>> {
  if (text === undefined) return { [`${field}Kind`]: 'none' };
  if (text.length <= PROPERTY_CHARS) return { [`${field}Kind`]: 'inline', [field]: text };
  const parts = Math.ceil(text.length / PROPERTY_CHARS);
  if (parts <= target.maxChunks) {
    const out: Record<string, unknown> = { [`${field}Kind`]: 'parts', [`${field}Parts`]: parts };
    for (let i = 0; i < parts; i++) out[`${field}${i}`] = text.slice(i * PROPERTY_CHARS, (i + 1) * PROPERTY_CHARS);
    return out;
  }
  if (!target.blobs) {
    throw new PayloadTooLargeError(
      `orchestration payload too large: the ${target.what} is ${text.length} characters and Table Storage holds at most ` +
        `${target.maxChunks * PROPERTY_CHARS} in this entity; give the orchestration engine a payload store (option "payloads")`,
    );
  }
  await target.blobs.write(target.blobPath, text, { contentType: 'application/json' });
  return { [`${field}Kind`]: 'blob', [`${field}Blob`]: target.blobPath };
}

/** The JSON text stored under `field` of an entity, or undefined when none. */
export async function decodePayload(entity: Record<string, unknown>, field: string, blobs: ObjectStore | undefined, what: string): Promise<string | undefined> {
  const kind = entity[`${field}Kind`];
  if (kind === undefined || kind === 'none') return undefined;
  if (kind === 'inline') return String(entity[field] ?? '');
  if (kind === 'parts') {
    const parts = Number(entity[`${field}Parts`]);
    let text = '';
    for (let i = 0; i < parts; i++) {
      const part = entity[`${field}${i}`];
      if (typeof part !== 'string') throw new Error(`orchestration payload damaged: part ${i} of ${parts} of the ${what} is missing`);
      text += part;
    }
    return text;
  }
  if (kind === 'blob') {
    const path = String(entity[`${field}Blob`]);
    if (!blobs) throw new Error(`orchestration payload: the ${what} is in blob ${path} but the engine has no payload store (option "payloads")`);
    return new TextDecoder().decode(await blobs.read(path));
  }
  throw new Error(`orchestration payload: unknown storage kind ${JSON.stringify(kind)} for the ${what}`);
}

/** Parse optional JSON text. */
export function parseJson(text: string | undefined): unknown {
  return text === undefined ? undefined : JSON.parse(text);
}

/** JSON text of a value as the wire would carry it (`undefined` stays undefined). */
export function toJsonText(value: unknown, what: string): string | undefined {
  if (value === undefined) return undefined;
  try {
    return JSON.stringify(value);
  } catch (err) {
    throw new Error(`the ${what} cannot be serialized to JSON: ${(err as Error).message}`, { cause: err });
  }
}
