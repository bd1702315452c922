/**
 * Input files the formats and ingest tests build at run time (those in test/fixtures/formats are
 * committed): Avro container files written by avsc, the library producers use.
 */
import { PassThrough } from 'node:stream';
import * as avro from 'avsc';

const LOGICAL_TYPES = ['decimal', 'date', 'timestamp-millis', 'timestamp-micros', 'local-timestamp-millis', 'local-timestamp-micros'];

/** A logical type whose values are given in their underlying type (bytes, int, long). */
class Unconverted extends avro.types.LogicalType {
  private readonly parameters: { precision?: unknown; scale?: unknown };

  constructor(schema: { precision?: unknown; scale?: unknown }, options?: unknown) {
    super(schema as never, options as never);
    this.parameters = { precision: schema.precision, scale: schema.scale };
  }

  protected override _export(schema: avro.Schema): void {
    for (const [key, value] of Object.entries(this.parameters)) if (value !== undefined) (schema as Record<string, unknown>)[key] = value;
  }

  protected override _fromValue(value: unknown): unknown {
    return value;
  }

  protected override _toValue(value: unknown): unknown {
    return value;
  }
}

/** How `avroContainer` encodes the blocks. */
export interface AvroOptions {
  /** Block codec (default `null`). */
  codec?: string;
  /** Bytes per block (avsc's default when not given). */
  blockSize?: number;
  /** Codec implementations avsc lacks (snappy). */
  codecs?: Record<string, unknown>;
}

/**
 * An Avro object container file.
 *
 * @param schema the writer schema (unions wrapped: `{ long: 1 }`)
 * @param records the records
 * @param options codec and block size
 * @returns the file's bytes
 */
export async function avroContainer(schema: object, records: unknown[], options: AvroOptions = {}): Promise<Buffer> {
  // Logical types are declared (values pass through as written) so that the header keeps them: avsc
  // drops the logicalType of types it has no implementation for.
  const logicalTypes = Object.fromEntries(LOGICAL_TYPES.map((name) => [name, Unconverted]));
  const type = avro.Type.forSchema(schema as never, { wrapUnions: true, logicalTypes } as never);
  const { codec = 'null', blockSize, codecs } = options;
  const encoder = new avro.streams.BlockEncoder(type, { codec, ...(blockSize ? { blockSize } : {}), ...(codecs ? { codecs } : {}) } as never);
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise((resolve) => out.on('end', resolve));
  encoder.pipe(out);
  for (const r of records) encoder.write(r);
  encoder.end();
  await done;
  return Buffer.concat(chunks);
}
