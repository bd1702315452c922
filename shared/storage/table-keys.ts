/**
 * Keys of Azure Table Storage rows (and of the file names that stand in for them on a local disk).
 * Table keys forbid `/ \ # ?` and control characters and are limited in length, so every table the
 * lake keeps (ledger, orchestration history, local deliveries) encodes its keys the same way.
 */
import { createHash } from 'node:crypto';

const KEY_LIMIT = 200;

/**
 * Encode text for a Table Storage key or a file name: letters, digits, `_ . -` stay; every other
 * UTF-8 byte becomes `~XX`. Order-preserving for prefixes; long keys end in a SHA-256 of the text.
 *
 * @param text any text
 * @returns the key
 */
export function encodeKey(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    const ch = String.fromCharCode(byte);
    out += /[A-Za-z0-9_.-]/.test(ch) ? ch : `~${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  if (out.length <= KEY_LIMIT) return out;
  return `${out.slice(0, KEY_LIMIT - 42)}~~${createHash('sha256').update(text).digest('hex').slice(0, 40)}`;
}
