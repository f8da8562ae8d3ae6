import { describe, expect, it } from "vitest";
import { cleanTerminalText } from "../../src/text/clean.js";
import { completeUtf8Length, decodeUtf8, leadingContinuationBytes } from "../../src/text/utf8.js";

const bytes = (...b: number[]) => Uint8Array.from(b);
const utf8 = (s: string) => new Uint8Array(Buffer.from(s, "utf8"));
const concat = (...parts: Uint8Array[]) => new Uint8Array(Buffer.concat(parts));

// One character of each UTF-8 length.
const CHARS = [
  { name: "1-byte 'a'", ch: "a", len: 1 },
  { name: "2-byte 'é'", ch: "é", len: 2 },
  { name: "3-byte '€'", ch: "€", len: 3 },
  { name: "4-byte '😀'", ch: "😀", len: 4 },
];

describe("leadingContinuationBytes", () => {
  it("is 0 for empty input, ASCII and input that starts with a lead byte", () => {
    expect(leadingContinuationBytes(bytes())).toBe(0);
    expect(leadingContinuationBytes(utf8("abc"))).toBe(0);
    expect(leadingContinuationBytes(utf8("é"))).toBe(0);
    expect(leadingContinuationBytes(utf8("😀x"))).toBe(0);
  });

  it("counts the tail of a character cut off in front", () => {
    for (const { ch, len } of CHARS) {
      const whole = utf8(`${ch}z`);
      for (let cut = 1; cut < len; cut++) {
        expect(leadingContinuationBytes(whole.subarray(cut)), `${ch} cut after ${cut}`).toBe(len - cut);
      }
    }
  });

  it("stops at 3: no UTF-8 character has more continuation bytes", () => {
    expect(leadingContinuationBytes(bytes(0x80, 0x80, 0x80, 0x80, 0x41))).toBe(3);
  });

  it("counts only at the start", () => {
    expect(leadingContinuationBytes(bytes(0x41, 0x80, 0x80))).toBe(0);
  });
});

describe("completeUtf8Length", () => {
  it("is the whole length for empty input and ASCII", () => {
    expect(completeUtf8Length(bytes())).toBe(0);
    expect(completeUtf8Length(utf8("hello"))).toBe(5);
  });

  for (const { name, ch, len } of CHARS) {
    it(`holds back a ${name} cut at every point, and keeps it whole`, () => {
      const prefix = utf8("ab€");
      const char = utf8(ch);
      expect(char.length).toBe(len);
      for (let cut = 0; cut <= len; cut++) {
        const buf = concat(prefix, char.subarray(0, cut));
        const expected = cut === len ? buf.length : prefix.length;
        expect(completeUtf8Length(buf), `${name} cut after ${cut} of ${len} bytes`).toBe(expected);
      }
    });
  }

  it("holds back a cut character that is the whole buffer", () => {
    expect(completeUtf8Length(utf8("😀").subarray(0, 3))).toBe(0);
    expect(completeUtf8Length(utf8("€").subarray(0, 1))).toBe(0);
  });

  it("keeps complete multi-byte characters back to back", () => {
    const buf = utf8("é€😀é€😀");
    expect(completeUtf8Length(buf)).toBe(buf.length);
  });

  it("does not hold back bytes that can never start a character (0xF8..0xFF)", () => {
    expect(completeUtf8Length(bytes(0x61, 0xff))).toBe(2);
  });
});

describe("decodeUtf8", () => {
  it("decodes valid UTF-8", () => {
    expect(decodeUtf8(utf8("héllo € 😀\n"))).toBe("héllo € 😀\n");
  });

  it("turns invalid bytes into U+FFFD without throwing", () => {
    expect(decodeUtf8(bytes(0xff, 0xfe, 0x6f, 0x6b))).toBe("\uFFFD\uFFFDok");
    expect(decodeUtf8(bytes(0x61, 0xc3))).toBe("a\uFFFD"); // truncated sequence at the end
    expect(decodeUtf8(bytes(0xa9, 0x62))).toBe("\uFFFDb"); // stray continuation byte
    expect(decodeUtf8(bytes(0xc0, 0xaf))).toBe("\uFFFD\uFFFD"); // overlong encoding of '/'
    expect(decodeUtf8(bytes(0xed, 0xa0, 0x80))).toBe("\uFFFD\uFFFD\uFFFD"); // encoded surrogate
  });

  it("carries nothing over from one call to the next", () => {
    expect(decodeUtf8(bytes(0xe2, 0x82))).toBe("\uFFFD");
    expect(decodeUtf8(utf8("ok"))).toBe("ok");
  });
});

describe("cleanTerminalText", () => {
  it("leaves plain text alone", () => {
    const plain = "line one\nline two\ttabbed\n";
    expect(cleanTerminalText(plain)).toBe(plain);
  });

  it("removes ANSI colour sequences", () => {
    expect(cleanTerminalText("\x1b[31mred\x1b[0m and \x1b[1;32mbold green\x1b[m\n")).toBe("red and bold green\n");
    expect(cleanTerminalText("\x1b[38;5;208morange\x1b[39m")).toBe("orange");
  });

  it("removes cursor movement and erase sequences", () => {
    expect(cleanTerminalText("\x1b[2K\x1b[1Aline\x1b[10;5H\x1b[?25l\x1b[0J")).toBe("line");
  });

  it("removes OSC sequences such as a window title", () => {
    expect(cleanTerminalText("\x1b]0;my title\x07text")).toBe("text");
  });

  it('reads "\\r\\n" as a newline', () => {
    expect(cleanTerminalText("a\r\nb\r\n")).toBe("a\nb\n");
  });

  it("collapses a progress bar redrawn with \\r to its final state", () => {
    expect(cleanTerminalText("10%\r50%\r100%")).toBe("100%");
    expect(cleanTerminalText("download 10%\rdownload 55%\rdownload 100%\ndone\r\n")).toBe("download 100%\ndone\n");
  });

  it("overwrites only as much as the redraw covers", () => {
    expect(cleanTerminalText("abcdef\rxy")).toBe("xycdef");
  });

  it("keeps a line that ends in a bare \\r", () => {
    expect(cleanTerminalText("abc\r")).toBe("abc");
    expect(cleanTerminalText("abc\r\rdef\n")).toBe("def\n");
  });

  it("applies redraws line by line", () => {
    expect(cleanTerminalText("aaaa\rb\ncccc\rdd\n")).toBe("baaa\nddcc\n");
  });

  it("handles colour inside a redrawn progress bar", () => {
    expect(cleanTerminalText("\x1b[32m10%\x1b[0m\r\x1b[32m100%\x1b[0m\n")).toBe("100%\n");
  });

  it("never splits a character outside the BMP when a redraw overwrites part of a line", () => {
    // "😀" is two UTF-16 code units: overwriting one unit of it must not leave half a surrogate pair,
    // which a client sees as U+FFFD (or as invalid JSON text).
    const out = cleanTerminalText("😀😀\ra");
    expect(out.startsWith("a")).toBe(true);
    expect(out.endsWith("😀")).toBe(true);
    expect(Buffer.from(out, "utf8").toString("utf8")).toBe(out); // survives encoding for the client
    expect(out).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/);
  });
});
