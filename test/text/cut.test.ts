import { describe, expect, it } from "vitest";
import { cutText, cutTextStart } from "../../src/text/cut.js";

describe("cutting long text, saying so", () => {
  it("keeps the start, or the end, of a text over the limit", () => {
    expect(cutText("abcdef", 10)).toBe("abcdef");
    expect(cutText("abcdef", 4)).toBe("abcd… [2 more chars]");
    expect(cutTextStart("abcdef", 10)).toBe("abcdef");
    expect(cutTextStart("abcdef", 4)).toBe("[2 chars before] …cdef");
  });

  it("never cuts a character of two UTF-16 units in two", () => {
    const emoji = "😀"; // two units
    expect(cutText(`ab${emoji}`, 3)).toBe("ab… [2 more chars]");
    expect(cutTextStart(`${emoji}cd`, 3)).toBe("[2 chars before] …cd");
    expect(cutTextStart(`x${emoji}cd`, 4)).toBe(`[1 chars before] …${emoji}cd`);
  });
});
