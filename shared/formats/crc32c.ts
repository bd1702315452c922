/**
 * CRC32C (Castagnoli), the checksum Avro's snappy codec appends to every block. node:zlib has CRC32
 * (the IEEE polynomial) but not this one, and no dependency exports it, so it lives here, apart from
 * the codec that uses it.
 */

const CRC32C_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

/**
 * The CRC32C of some bytes.
 *
 * @param bytes the bytes
 * @returns the checksum as an unsigned 32-bit number
 */
export function crc32c(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC32C_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
