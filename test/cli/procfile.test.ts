import { describe, expect, it } from "vitest";
import { foremanPort, parseProcfile } from "../../src/cli/procfile.js";

describe("a Procfile, as foreman reads it", () => {
  it("takes NAME: COMMAND lines, skips blank lines and comments, keeps the order", () => {
    expect(parseProcfile("# dev\nweb: npm start -- --port $PORT\r\n\n  worker:   node jobs.js  \n")).toEqual([
      { name: "web", command: "npm start -- --port $PORT" },
      { name: "worker", command: "node jobs.js" },
    ]);
    expect(parseProcfile("db: postgres -c a=b:c")).toEqual([{ name: "db", command: "postgres -c a=b:c" }]);
  });

  it("names the line that is not NAME: COMMAND, a name given twice, or a file with nothing", () => {
    expect(() => parseProcfile("web npm start")).toThrow(/line 1 is not NAME: COMMAND/);
    expect(() => parseProcfile("web:\n")).toThrow(/line 1/);
    expect(() => parseProcfile("w eb: x")).toThrow(/line 1/);
    expect(() => parseProcfile("a: x\n\na: y")).toThrow(/line 3: a is named twice/);
    expect(() => parseProcfile("# only\n\n")).toThrow(/names no process/);
  });

  it("gives ports as foreman does", () => {
    expect([0, 1, 2].map(foremanPort)).toEqual([5000, 5100, 5200]);
  });
});
