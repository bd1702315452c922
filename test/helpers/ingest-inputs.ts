/**
 * Input files the formats and ingest tests build at run time (those in test/fixtures/formats are
 * committed): Avro container files written by avsc, the library producers use.
 */
import { PassThrough } from 'node:stream';
import * as avro from 'avsc';

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
  const type = avro.Type.forSchema(schema as never, { wrapUnions: true } as never);
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
