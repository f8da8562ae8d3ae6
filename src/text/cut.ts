/** Longest line a matching or searching tool returns (a line may be up to 1 MiB long). */
export const MAX_LINE_CHARS = 1000;

/**
 * `text` if it is at most `max` characters long, else its first `max` characters and a note saying
 * how many more there were. Never cuts a character made of two UTF-16 units in two.
 */
export function cutText(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = max;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return `${text.slice(0, end)}… [${text.length - end} more chars]`;
}

/**
 * `text` if it is at most `max` characters long, else its last `max` characters after a note saying
 * how many came before (for the end of a log). Never cuts a character made of two UTF-16 units in two.
 */
export function cutTextStart(text: string, max: number): string {
  if (text.length <= max) return text;
  let start = text.length - max;
  const first = text.charCodeAt(start);
  if (first >= 0xdc00 && first <= 0xdfff) start++;
  return `[${start} chars before] …${text.slice(start)}`;
}
