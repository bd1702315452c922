/**
 * The input reader the stage uses: `readInput` of shared/formats (the contract is
 * shared/formats/types.ts). Hosts and tests may pass another function with the same contract.
 */
import type * as Formats from '../formats';
import type { ReadOptions, ReadResult } from '../formats/types';

/** `readInput` of shared/formats: bytes of one input (streamed) and its name → rows and bad records. */
export type ReadInput = (input: AsyncIterable<Uint8Array>, name: string, options: ReadOptions) => Promise<ReadResult>;

let cached: ReadInput | undefined;

/**
 * `readInput` from shared/formats, loaded on first use.
 *
 * @returns the reader
 */
export function formatsReader(): ReadInput {
  // Loaded on first use (type-checked through the type import above): the CLI's other commands, and
  // hosts that inject their own reader, do not pay for loading every format's dependencies.
  cached ??= (require('../formats') as typeof Formats).readInput;
  return cached;
}
