/**
 * The input reader the stage uses: `readInput` of shared/formats (the contract is
 * shared/formats/types.ts). Hosts and tests may pass another function with the same contract.
 */
import { readInput } from '../formats';
import type { ReadOptions, ReadResult } from '../formats/types';

/** `readInput` of shared/formats: bytes of one input (streamed) and its name → rows and bad records. */
export type ReadInput = (input: AsyncIterable<Uint8Array>, name: string, options: ReadOptions) => Promise<ReadResult>;

/**
 * `readInput` from shared/formats.
 *
 * @returns the reader
 */
export function formatsReader(): ReadInput {
  // A static import: a lazy `require('../formats')` resolved only in compiled output and under tsx,
  // not where TypeScript sources are loaded as ES modules (vitest), and the readers' dependencies load
  // in milliseconds.
  return readInput;
}
