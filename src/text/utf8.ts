/** Count of UTF-8 continuation bytes (at most 3) at the start of `buf`: the tail of a character cut off in front. */
export function leadingContinuationBytes(buf: Uint8Array): number {
  let n = 0;
  while (n < 3 && n < buf.length && ((buf[n] as number) & 0xc0) === 0x80) n++;
  return n;
}

/** Length of `buf` without a trailing UTF-8 sequence that is not complete yet (its rest not written yet). */
export function completeUtf8Length(buf: Uint8Array): number {
  const len = buf.length;
  // Look back at most 3 bytes for the lead byte of the last character.
  for (let back = 1; back <= Math.min(3, len); back++) {
    const b = buf[len - back] as number;
    if ((b & 0xc0) === 0x80) continue;
    const need = b >= 0xf0 && b < 0xf8 ? 4 : b >= 0xe0 && b < 0xf0 ? 3 : b >= 0xc0 && b < 0xe0 ? 2 : 1;
    return need > back ? len - back : len;
  }
  return len;
}

const decoder = new TextDecoder("utf-8", { fatal: false });

/** Decodes bytes as UTF-8; invalid bytes become U+FFFD, nothing throws. */
export function decodeUtf8(buf: Uint8Array): string {
  return decoder.decode(buf);
}
