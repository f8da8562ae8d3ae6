// What the server's thread asks of a worker (worker-main.ts), and what a wait's step answers.
import type { TreeRoot } from "../process/process-tree.js";

/** A stream to scan from a byte offset. */
export interface ScanStream {
  name: "stdout" | "stderr";
  path: string;
  from: number;
}

/** One step of a wait: a matching line, if any; whether output is left to read; where each stream's scan stands. */
export interface ScanStep {
  hit: { stream: "stdout" | "stderr"; text: string } | null;
  behind: boolean;
  /** Per stream (in the order opened): the offset just past the last complete line looked at. */
  offsets: number[];
}

export type TextRequest =
  | { op: "open"; sid: number; source: string; streams: ScanStream[] }
  | { op: "step"; sid: number; final: boolean; maxBytes: number }
  | { op: "close"; sid: number }
  | {
      op: "search";
      source: string;
      streams: { name: "stdout" | "stderr"; path: string }[];
      opts: { contextLines: number; maxMatches: number; maxChars: number };
      budgetMs: number;
    }
  | { op: "render"; text: string; cols: number; rows: number }
  | { op: "tree"; roots: TreeRoot[]; skip: number[] }
  | { op: "ports"; roots: TreeRoot[] };
