/**
 * Protocol gate: what this implementation can read and write. A table asking for more is refused
 * with an error naming the version or feature, before any data file is touched.
 */
import type { Metadata, Protocol } from './actions';
import { UnsupportedProtocolError } from './errors';
import type { DeltaStruct, DeltaType } from './schema';

/** Highest reader version implemented without table features. */
export const MAX_READER_VERSION = 1;
/** Highest writer version implemented without table features. */
export const MAX_WRITER_VERSION = 2;
/** Reader features that need nothing from this reader, or that it implements. */
export const SUPPORTED_READER_FEATURES = new Set(['timestampNtz', 'vacuumProtocolCheck', 'deletionVectors']);
/** Writer features this writer honours. */
export const SUPPORTED_WRITER_FEATURES = new Set(['appendOnly', 'invariants', 'timestampNtz', 'vacuumProtocolCheck']);
/**
 * Writer features of tables Sluice maintains (optimize, vacuum, checkpoint) but does not add data to:
 * maintenance of such tables is implemented, writing new data into them is not.
 */
export const MAINTENANCE_ONLY_WRITER_FEATURES = new Set(['deletionVectors']);
/** What a writer is about to do: add data (appends, overwrites, refreshes), or rearrange and clean up. */
export type WritePurpose = 'append' | 'maintenance';
/** The protocol Sluice creates tables with (what Spark creates by default). */
export const CREATE_PROTOCOL: Protocol = { minReaderVersion: 1, minWriterVersion: 2 };

/**
 * Refuse tables this reader cannot read correctly.
 *
 * @param protocol the table's protocol action
 * @param metadata the table's metadata (column mapping mode lives in its configuration)
 * @param table table URL for the message
 */
export function checkReadSupport(protocol: Protocol, metadata: Metadata | undefined, table: string): void {
  const reader = protocol.minReaderVersion;
  if (reader === 3) {
    const unknown = (protocol.readerFeatures ?? []).filter((f) => !SUPPORTED_READER_FEATURES.has(f));
    if (unknown.length) {
      throw new UnsupportedProtocolError(
        `delta protocol: table ${table} needs reader feature${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} ` +
          `(minReaderVersion=3), which Sluice does not implement; refusing to read it rather than return wrong rows`,
      );
    }
  } else if (reader === 2) {
    const mode = metadata?.configuration?.['delta.columnMapping.mode'] ?? 'none';
    if (mode !== 'none') {
      throw new UnsupportedProtocolError(
        `delta protocol: table ${table} uses column mapping (minReaderVersion=2, delta.columnMapping.mode=${mode}), which Sluice does not implement`,
      );
    }
  } else if (reader > MAX_READER_VERSION || reader < 1 || !Number.isInteger(reader)) {
    throw new UnsupportedProtocolError(
      `delta protocol: table ${table} needs reader version ${reader} (minReaderVersion=${reader}); Sluice reads version 1 ` +
        `and version 3 with features ${[...SUPPORTED_READER_FEATURES].join(', ')}`,
    );
  }
}

/**
 * Refuse to write tables whose writer protocol or active constraints this writer cannot honour.
 *
 * @param protocol the table's protocol action
 * @param metadata the table's metadata
 * @param schema the parsed table schema
 * @param table table URL for the message
 * @param purpose adding data, or maintenance (optimize, vacuum, checkpoint)
 */
export function checkWriteSupport(protocol: Protocol, metadata: Metadata, schema: DeltaStruct, table: string, purpose: WritePurpose = 'append'): void {
  checkReadSupport(protocol, metadata, table);
  const writer = protocol.minWriterVersion;
  if (writer === 7) {
    const features = protocol.writerFeatures ?? [];
    const maintenanceOnly = features.filter((f) => MAINTENANCE_ONLY_WRITER_FEATURES.has(f));
    if (purpose === 'append' && maintenanceOnly.length) {
      throw new UnsupportedProtocolError(
        `delta protocol: table ${table} has writer feature${maintenanceOnly.length > 1 ? 's' : ''} ${maintenanceOnly.join(', ')} (minWriterVersion=7); ` +
          'Sluice reads, optimizes, vacuums and checkpoints such a table but does not write new data to it; refusing to write',
      );
    }
    const unknown = features.filter((f) => !SUPPORTED_WRITER_FEATURES.has(f) && !MAINTENANCE_ONLY_WRITER_FEATURES.has(f));
    if (unknown.length) {
      throw new UnsupportedProtocolError(
        `delta protocol: table ${table} needs writer feature${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} ` +
          `(minWriterVersion=7), which Sluice does not implement; refusing to write`,
      );
    }
  } else if (writer > MAX_WRITER_VERSION || writer < 1 || !Number.isInteger(writer)) {
    throw new UnsupportedProtocolError(
      `delta protocol: table ${table} needs writer version ${writer} (minWriterVersion=${writer}); Sluice writes versions 1–2 ` +
        `and version 7 with features ${[...SUPPORTED_WRITER_FEATURES].join(', ')}; refusing to write`,
    );
  }
  const invariant = findFieldMetadata(schema, 'delta.invariants');
  if (invariant) {
    throw new UnsupportedProtocolError(
      `delta protocol: table ${table} has a column invariant on "${invariant}" (delta.invariants), which Sluice cannot evaluate; refusing to write`,
    );
  }
  for (const key of ['delta.generationExpression', 'delta.identity.start', 'CURRENT_DEFAULT']) {
    const column = findFieldMetadata(schema, key);
    if (column) throw new UnsupportedProtocolError(`delta protocol: column "${column}" of table ${table} uses ${key}, which Sluice does not implement; refusing to write`);
  }
  const constraint = Object.keys(metadata.configuration ?? {}).find((k) => k.startsWith('delta.constraints.'));
  if (constraint) throw new UnsupportedProtocolError(`delta protocol: table ${table} has CHECK constraint ${constraint}, which Sluice does not implement; refusing to write`);
}

function findFieldMetadata(type: DeltaType, key: string, prefix = ''): string | null {
  if (typeof type === 'string') return null;
  if (type.type === 'array') return findFieldMetadata(type.elementType, key, prefix);
  if (type.type === 'map') return findFieldMetadata(type.keyType, key, prefix) ?? findFieldMetadata(type.valueType, key, prefix);
  for (const field of type.fields) {
    const path = prefix ? `${prefix}.${field.name}` : field.name;
    if (field.metadata && key in field.metadata) return path;
    const inner = findFieldMetadata(field.type, key, path);
    if (inner) return inner;
  }
  return null;
}
