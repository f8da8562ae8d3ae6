import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A fake model API on 127.0.0.1 that real agent hosts (Claude Code, Codex, Gemini CLI) talk to instead
 * of a model: it speaks Anthropic Messages, OpenAI Responses and the Gemini API, replays a scripted
 * conversation, and records every request so a test can assert what the model was shown.
 *
 * The script is a list of steps, each a tool call or a text (the last one: the final answer). Which step
 * a main-turn request gets is read from the request itself: the number of tool results its conversation
 * holds, counting Claude Code's <task-notification> of a settled MCP task as one (so a host that retries
 * a request, or makes side calls between turns, gets the same answer again). A text before the last step
 * ends a turn that a task notification resumes (Claude Code's interactive mode). Side calls (titles,
 * routers, token counts, next-speaker checks) get something harmless and do not move the script.
 */

/** What the previous tool call returned, as the model saw it and as the server's JSON beneath. */
export interface PrevResult {
  /** The tool's name as the host called it. */
  name: string;
  /** The result text exactly as the model was shown it (the host's wrapping included). */
  text: string;
  /** The server's JSON result found inside `text` (null when there is none). */
  json: Record<string, unknown> | null;
}

export type Args = Record<string, unknown>;

export interface CallStep {
  /** The server's tool name without the host's prefix, or (with `builtin`) a host tool's own name. */
  tool: string;
  /** `tool` is the host's own tool (Claude Code's ToolSearch), not one of the MCP server's. */
  builtin?: boolean;
  args: Args | ((prev: PrevResult | undefined, all: PrevResult[]) => Args);
  /** The model answers with this call only after this long (a model that waits before it polls again). */
  delayMs?: number;
}

export type Step =
  | CallStep
  | { text: string }
  | {
      /**
       * Decided when it is reached, from what the model has seen: a call, or a text that ends the script
       * (a model that polls until it sees what it waits for: a script of one start and many such steps).
       */
      next: (prev: PrevResult | undefined, all: PrevResult[]) => CallStep | { text: string };
    };

export type Api = "anthropic" | "responses" | "gemini" | "other";

export interface RecordedRequest {
  api: Api;
  method: string;
  /** The path with its query. */
  url: string;
  /** "main": a turn of the agent's conversation (it offers tools); "side": anything else. */
  kind: "main" | "side";
  body: unknown;
  /** When it arrived and when its answer was sent (ms since epoch). */
  at: number;
  answeredAt?: number;
  /** The script step it was answered with (main turns). */
  step?: number;
  /** The tool call it was answered with: `tool` as the script names it, `name` as the host does. */
  call?: { tool: string; name: string; args: Args };
  /** A one-line summary of the answer. */
  answer?: string;
}

/** One tool result found in a request's conversation. */
export interface ToolResult {
  /** The tool's name as the host called it (Claude: mcp__NAME__tool, Codex: tool in namespace mcp__NAME, Gemini: mcp_NAME_tool). */
  name: string;
  /** The name without the host's prefix for the MCP server's tools. */
  tool: string;
  text: string;
  /** "task_notification": Claude Code's <task-notification> of an MCP task that settled (interactive mode). */
  kind: "tool_result" | "task_notification";
}

export interface FakeModel {
  url: string;
  port: number;
  /** Every request, in arrival order. */
  requests: RecordedRequest[];
  /** The main-turn requests only. */
  mainRequests(): RecordedRequest[];
  /** The tool results the model was shown, in order (from the latest main-turn request). */
  toolResults(): ToolResult[];
  /** The same, only those of the MCP server's tools. */
  mcpResults(): ToolResult[];
  /** Names of the tools the latest main-turn request offered, as the host named them. */
  toolsOffered(): string[];
  /** Every tool name offered over the whole conversation (Claude Code adds tools after ToolSearch). */
  allToolsOffered(): string[];
  /** Of those, the MCP server's tools, without the host's prefix. */
  mcpToolsOffered(): string[];
  /** Steps whose `args` function threw (answered with a final text saying so). */
  errors: string[];
  /** Resolves once a main-turn request has been answered with the script's final text. */
  finalServed: Promise<void>;
  /** Resolves once step `n` (0-based) has been answered. */
  served(n: number): Promise<RecordedRequest>;
  close(): Promise<void>;
}

export interface FakeModelOptions {
  /** The MCP server's name as registered with the host (tool names carry it). */
  server: string;
  script: Step[];
  /** Writes one line per request to stderr (debugging). */
  verbose?: boolean;
}

// ---------------------------------------------------------------------------------------------------
// Reading results out of each API's request format

/** The server's JSON in a result text, unwrapping the hosts' envelopes (Gemini's {"output": ...}, Codex's "Output:\n"). */
export function findJson(text: string): Record<string, unknown> | null {
  const tryParse = (s: string): unknown => {
    try {
      return JSON.parse(s);
    } catch {
      return undefined;
    }
  };
  const whole = tryParse(text);
  if (whole && typeof whole === "object" && !Array.isArray(whole)) {
    const obj = whole as Record<string, unknown>;
    // A host's envelope around the text: look inside.
    for (const key of ["output", "content", "result"]) {
      if (typeof obj[key] === "string" && Object.keys(obj).length <= 2) {
        const inner = findJson(obj[key] as string);
        if (inner) return inner;
      }
    }
    return obj;
  }
  // The first '{' whose balanced object parses.
  for (let start = text.indexOf("{"); start >= 0; start = text.indexOf("{", start + 1)) {
    const end = matchingBrace(text, start);
    if (end < 0) continue;
    const parsed = tryParse(text.slice(start, end + 1));
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  }
  return null;
}

function matchingBrace(text: string, start: number): number {
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === "{") depth++;
    else if (c === "}") {
      depth--;
      if (depth === 0) return i;
    }
  }
  return -1;
}

type Json = Record<string, unknown>;
const asArray = (v: unknown): Json[] => (Array.isArray(v) ? (v as Json[]) : []);
const str = (v: unknown): string => (typeof v === "string" ? v : v === undefined ? "" : JSON.stringify(v));

/** Text of an Anthropic tool_result's content (a string or blocks). */
function anthropicContentText(content: unknown): string {
  if (typeof content === "string") return content;
  return asArray(content)
    .map((b) => (b.type === "text" ? str(b.text) : JSON.stringify(b)))
    .join("");
}

/** Text of a Responses function_call_output's output (a string or content items). */
function responsesOutputText(output: unknown): string {
  if (typeof output === "string") return output;
  return asArray(output)
    .map((b) => (typeof b.text === "string" ? b.text : JSON.stringify(b)))
    .join("");
}

/** The tool results in a request's conversation, in order, with the names of the calls they answer. */
export function resultsIn(api: Api, body: unknown): Omit<ToolResult, "tool">[] {
  const b = (body ?? {}) as Json;
  const out: Omit<ToolResult, "tool">[] = [];
  if (api === "anthropic") {
    const names = new Map<string, string>();
    for (const m of asArray(b.messages)) {
      // Content is blocks, or one string (Claude Code sends a notification's message as blocks at first,
      // as a string in later requests).
      const blocks = typeof m.content === "string" ? [{ type: "text", text: m.content }] : asArray(m.content);
      for (const block of blocks) {
        if (block.type === "tool_use") names.set(str(block.id), str(block.name));
        if (block.type === "tool_result")
          out.push({
            name: names.get(str(block.tool_use_id)) ?? "?",
            text: anthropicContentText(block.content),
            kind: "tool_result",
          });
        // An MCP task's end, told in a user message: a result of the call that started it.
        if (m.role === "user" && block.type === "text" && str(block.text).includes("<task-notification>")) {
          const text = str(block.text);
          const called = /\(([^/()\s]+)\/([^()\s]+)\)/.exec(text);
          out.push({
            name: called ? `mcp__${called[1]}__${called[2]}` : "task-notification",
            text,
            kind: "task_notification",
          });
        }
      }
    }
  } else if (api === "responses") {
    const names = new Map<string, string>();
    for (const item of asArray(b.input)) {
      if (item.type === "function_call" || item.type === "custom_tool_call")
        names.set(str(item.call_id), item.namespace ? `${str(item.namespace)}__${str(item.name)}` : str(item.name));
      if (item.type === "function_call_output" || item.type === "custom_tool_call_output")
        out.push({
          name: names.get(str(item.call_id)) ?? "?",
          text: responsesOutputText(item.output),
          kind: "tool_result",
        });
    }
  } else if (api === "gemini") {
    for (const c of asArray(b.contents)) {
      for (const part of asArray(c.parts)) {
        const fr = part.functionResponse as Json | undefined;
        if (fr) out.push({ name: str(fr.name), text: JSON.stringify(fr.response ?? {}), kind: "tool_result" });
      }
    }
  }
  return out;
}

/** Tool names a request offers, as the host names them (a Responses namespace's tools as NS__name). */
export function toolsIn(api: Api, body: unknown): string[] {
  const b = (body ?? {}) as Json;
  if (api === "anthropic") return asArray(b.tools).map((t) => str(t.name));
  if (api === "responses") {
    const names: string[] = [];
    for (const t of asArray(b.tools)) {
      if (t.type === "namespace")
        for (const inner of asArray(t.tools)) names.push(`${str(t.name)}__${str(inner.name)}`);
      else names.push(str(t.name ?? t.type));
    }
    return names;
  }
  if (api === "gemini") return asArray(b.tools).flatMap((t) => asArray(t.functionDeclarations).map((f) => str(f.name)));
  return [];
}

// ---------------------------------------------------------------------------------------------------

export async function startFakeModel(opts: FakeModelOptions): Promise<FakeModel> {
  const { server: mcpName, script } = opts;
  const requests: RecordedRequest[] = [];
  const errors: string[] = [];
  let resolveFinal: () => void = () => {};
  const finalServed = new Promise<void>((r) => {
    resolveFinal = r;
  });
  const stepWaiters = new Map<number, ((r: RecordedRequest) => void)[]>();
  const stepsServed = new Map<number, RecordedRequest>();

  const prefixes = [`mcp__${mcpName}__`, `mcp_${mcpName}_`];
  const bare = (name: string) => {
    for (const p of prefixes) if (name.startsWith(p)) return name.slice(p.length);
    return name;
  };
  const isMcp = (name: string) => prefixes.some((p) => name.startsWith(p));

  /** The step a main-turn request gets, and the arguments for it (or the text to answer). */
  const decide = (
    api: Api,
    body: unknown,
  ): {
    index: number;
    call?: { name: string; builtin: boolean; args: Args };
    text?: string;
    final: boolean;
    delayMs?: number;
  } => {
    const results = resultsIn(api, body);
    const index = results.length;
    const step = script[index];
    if (!step) return { index, text: "Done.", final: true };
    if ("text" in step) return { index, text: step.text, final: index >= script.length - 1 };
    const prevs: PrevResult[] = results.map((r) => ({ name: r.name, text: r.text, json: findJson(r.text) }));
    const prev = prevs[prevs.length - 1];
    try {
      const chosen = "next" in step ? step.next(prev, prevs) : step;
      if ("text" in chosen) return { index, text: chosen.text, final: true };
      const args = typeof chosen.args === "function" ? chosen.args(prev, prevs) : chosen.args;
      return {
        index,
        call: { name: chosen.tool, builtin: chosen.builtin === true, args },
        final: false,
        delayMs: chosen.delayMs,
      };
    } catch (err) {
      const why = `step ${index} (${"tool" in step ? step.tool : "next"}): ${(err as Error).message}`;
      errors.push(why);
      return { index, text: `The script could not go on: ${why}`, final: true };
    }
  };

  const noteServed = (rec: RecordedRequest, index: number, isFinal: boolean) => {
    rec.step = index;
    if (!stepsServed.has(index)) {
      stepsServed.set(index, rec);
      for (const w of stepWaiters.get(index) ?? []) w(rec);
      stepWaiters.delete(index);
    }
    if (isFinal) resolveFinal();
  };

  const http: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const raw = Buffer.concat(chunks).toString("utf8");
      let body: unknown = raw;
      try {
        body = raw ? JSON.parse(raw) : {};
      } catch {}
      try {
        route(req, res, body);
      } catch (err) {
        res.writeHead(500, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: { message: String(err) } }));
      }
    });
  });

  const record = (req: IncomingMessage, api: Api, kind: "main" | "side", body: unknown): RecordedRequest => {
    const rec: RecordedRequest = { api, method: req.method ?? "", url: req.url ?? "", kind, body, at: Date.now() };
    requests.push(rec);
    return rec;
  };
  const done = (rec: RecordedRequest, answer: string) => {
    rec.answeredAt = Date.now();
    rec.answer = answer;
    if (opts.verbose)
      process.stderr.write(`fake-model: ${rec.method} ${rec.url} [${rec.kind}] step=${rec.step ?? "-"} -> ${answer}\n`);
  };

  function route(req: IncomingMessage, res: ServerResponse, body: unknown): void {
    const url = req.url ?? "";
    const path = url.split("?")[0] ?? "";
    const b = (body ?? {}) as Json;
    if (req.method === "POST" && path.endsWith("/messages/count_tokens")) {
      const rec = record(req, "anthropic", "side", body);
      json(res, { input_tokens: Math.ceil(JSON.stringify(body).length / 4) });
      done(rec, "count_tokens");
      return;
    }
    if (req.method === "POST" && path.endsWith("/messages")) {
      anthropic(req, res, b);
      return;
    }
    if (req.method === "POST" && path.endsWith("/responses")) {
      responses(req, res, b);
      return;
    }
    const gem = /\/models\/([^/:]+):(generateContent|streamGenerateContent|countTokens)$/.exec(path);
    if (req.method === "POST" && gem) {
      gemini(req, res, b, gem[2] as string);
      return;
    }
    if (req.method === "GET" && path.endsWith("/models")) {
      const rec = record(req, "other", "side", body);
      json(res, { object: "list", data: [], models: [] });
      done(rec, "empty model list");
      return;
    }
    const rec = record(req, "other", "side", body);
    res.writeHead(404, { "content-type": "application/json" });
    res.end(JSON.stringify({ error: { message: `fake model: no ${req.method} ${path}` } }));
    done(rec, "404");
  }

  // --- Anthropic Messages -------------------------------------------------------------------------

  function anthropic(req: IncomingMessage, res: ServerResponse, b: Json): void {
    const main = asArray(b.tools).length > 0;
    const rec = record(req, "anthropic", main ? "main" : "side", b);
    const id = `msg_${Math.random().toString(36).slice(2, 14)}`;
    const model = str(b.model) || "claude-fake";
    let content: Json[];
    let stop: string;
    let summary: string;
    let delayMs = 0;
    if (main) {
      const d = decide("anthropic", b);
      delayMs = d.delayMs ?? 0;
      if (d.call) {
        const name = d.call.builtin ? d.call.name : `mcp__${mcpName}__${d.call.name}`;
        content = [
          {
            type: "tool_use",
            id: `toolu_${d.index}_${Math.random().toString(36).slice(2, 10)}`,
            name,
            input: d.call.args,
          },
        ];
        stop = "tool_use";
        summary = `${name} ${JSON.stringify(d.call.args)}`;
        rec.call = { tool: d.call.name, name, args: d.call.args };
      } else {
        content = [{ type: "text", text: d.text ?? "" }];
        stop = "end_turn";
        summary = `text ${JSON.stringify(d.text)}`;
      }
      noteServed(rec, d.index, d.final);
    } else {
      content = [{ type: "text", text: sideText(JSON.stringify(b)) }];
      stop = "end_turn";
      summary = `side text ${JSON.stringify((content[0] as Json).text)}`;
    }
    const send = () => {
      const usage = {
        input_tokens: 100,
        output_tokens: 20,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
      };
      if (b.stream !== true) {
        json(res, {
          id,
          type: "message",
          role: "assistant",
          model,
          content,
          stop_reason: stop,
          stop_sequence: null,
          usage,
        });
        done(rec, summary);
        return;
      }
      sseStart(res);
      const ev = (event: string, data: Json) =>
        res.write(`event: ${event}\ndata: ${JSON.stringify({ type: event, ...data })}\n\n`);
      ev("message_start", {
        message: {
          id,
          type: "message",
          role: "assistant",
          model,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: { ...usage, output_tokens: 1 },
        },
      });
      content.forEach((block, index) => {
        if (block.type === "tool_use") {
          ev("content_block_start", { index, content_block: { ...block, input: {} } });
          const input = JSON.stringify(block.input);
          // In two pieces, as a model streams it.
          const half = Math.floor(input.length / 2);
          ev("content_block_delta", { index, delta: { type: "input_json_delta", partial_json: input.slice(0, half) } });
          ev("content_block_delta", { index, delta: { type: "input_json_delta", partial_json: input.slice(half) } });
        } else {
          ev("content_block_start", { index, content_block: { type: "text", text: "" } });
          ev("content_block_delta", { index, delta: { type: "text_delta", text: str(block.text) } });
        }
        ev("content_block_stop", { index });
      });
      ev("message_delta", { delta: { stop_reason: stop, stop_sequence: null }, usage: { output_tokens: 20 } });
      ev("message_stop", {});
      res.end();
      done(rec, summary);
    };
    later(delayMs, send);
  }

  // --- OpenAI Responses ---------------------------------------------------------------------------

  function responses(req: IncomingMessage, res: ServerResponse, b: Json): void {
    const main = asArray(b.tools).length > 0;
    const rec = record(req, "responses", main ? "main" : "side", b);
    const id = `resp_${Math.random().toString(36).slice(2, 14)}`;
    let item: Json;
    let summary: string;
    let delayMs = 0;
    if (main) {
      const d = decide("responses", b);
      delayMs = d.delayMs ?? 0;
      if (d.call) {
        const args = JSON.stringify(d.call.args);
        item = {
          type: "function_call",
          id: `fc_${d.index}_${Math.random().toString(36).slice(2, 10)}`,
          call_id: `call_${d.index}_${Math.random().toString(36).slice(2, 10)}`,
          name: d.call.name,
          arguments: args,
          status: "completed",
          ...(d.call.builtin ? {} : { namespace: `mcp__${mcpName}` }),
        };
        summary = `${d.call.builtin ? "" : `mcp__${mcpName}.`}${d.call.name} ${args}`;
        rec.call = {
          tool: d.call.name,
          name: d.call.builtin ? d.call.name : `mcp__${mcpName}__${d.call.name}`,
          args: d.call.args,
        };
      } else {
        item = textItem(d.text ?? "");
        summary = `text ${JSON.stringify(d.text)}`;
      }
      noteServed(rec, d.index, d.final);
    } else {
      const text = sideText(JSON.stringify(b));
      item = textItem(text);
      summary = `side text ${JSON.stringify(text)}`;
    }
    const send = () => {
      const usage = {
        input_tokens: 100,
        input_tokens_details: { cached_tokens: 0 },
        output_tokens: 20,
        output_tokens_details: { reasoning_tokens: 0 },
        total_tokens: 120,
      };
      const response = {
        id,
        object: "response",
        created_at: Math.floor(Date.now() / 1000),
        model: str(b.model),
        status: "completed",
      };
      if (b.stream === false) {
        json(res, { ...response, output: [item], usage });
        done(rec, summary);
        return;
      }
      sseStart(res);
      let seq = 0;
      const ev = (type: string, data: Json) =>
        res.write(`event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: seq++, ...data })}\n\n`);
      ev("response.created", { response: { ...response, status: "in_progress", output: [] } });
      ev("response.output_item.added", {
        output_index: 0,
        item: item.type === "message" ? { ...item, content: [] } : item,
      });
      if (item.type === "message") {
        const text = str((asArray(item.content)[0] as Json).text);
        ev("response.output_text.delta", { item_id: item.id, output_index: 0, content_index: 0, delta: text });
      }
      ev("response.output_item.done", { output_index: 0, item });
      ev("response.completed", { response: { ...response, output: [item], usage } });
      res.end();
      done(rec, summary);
    };
    later(delayMs, send);
  }

  const textItem = (text: string): Json => ({
    type: "message",
    id: `msg_${Math.random().toString(36).slice(2, 14)}`,
    role: "assistant",
    status: "completed",
    content: [{ type: "output_text", text, annotations: [] }],
  });

  // --- Gemini -------------------------------------------------------------------------------------

  function gemini(req: IncomingMessage, res: ServerResponse, b: Json, method: string): void {
    if (method === "countTokens") {
      const rec = record(req, "gemini", "side", b);
      json(res, { totalTokens: Math.ceil(JSON.stringify(b).length / 4) });
      done(rec, "countTokens");
      return;
    }
    const config = (b.generationConfig ?? {}) as Json;
    const jsonMode = typeof config.responseMimeType === "string" && config.responseMimeType.includes("json");
    const main = asArray(b.tools).length > 0 && !jsonMode;
    const rec = record(req, "gemini", main ? "main" : "side", b);
    let parts: Json[];
    let summary: string;
    let delayMs = 0;
    if (main) {
      const d = decide("gemini", b);
      delayMs = d.delayMs ?? 0;
      if (d.call) {
        const name = d.call.builtin ? d.call.name : `mcp_${mcpName}_${d.call.name}`;
        parts = [{ functionCall: { name, args: d.call.args } }];
        summary = `${name} ${JSON.stringify(d.call.args)}`;
        rec.call = { tool: d.call.name, name, args: d.call.args };
      } else {
        parts = [{ text: d.text ?? "" }];
        summary = `text ${JSON.stringify(d.text)}`;
      }
      noteServed(rec, d.index, d.final);
    } else if (jsonMode) {
      const schema = (config.responseJsonSchema ?? config.responseSchema ?? {}) as Json;
      const text = JSON.stringify(fillSchema(schema));
      parts = [{ text }];
      summary = `side json ${text}`;
    } else {
      const text = sideText(JSON.stringify(b));
      parts = [{ text }];
      summary = `side text ${JSON.stringify(text)}`;
    }
    const answer = {
      candidates: [{ content: { role: "model", parts }, finishReason: "STOP", index: 0 }],
      usageMetadata: { promptTokenCount: 100, candidatesTokenCount: 20, totalTokenCount: 120 },
      modelVersion: "gemini-fake",
      responseId: `r${Math.random().toString(36).slice(2, 12)}`,
    };
    const send = () => {
      if (method === "streamGenerateContent") {
        sseStart(res);
        res.write(`data: ${JSON.stringify(answer)}\r\n\r\n`);
        res.end();
      } else json(res, answer);
      done(rec, summary);
    };
    later(delayMs, send);
  }

  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  const port = (http.address() as AddressInfo).port;

  const mainRequests = () => requests.filter((r) => r.kind === "main");
  const latestMain = () => mainRequests().at(-1);
  const toolResults = (): ToolResult[] => {
    const last = latestMain();
    if (!last) return [];
    return resultsIn(last.api, last.body).map((r) => ({ ...r, tool: bare(r.name) }));
  };
  const allTools = () => {
    const names = new Set<string>();
    for (const r of mainRequests()) for (const n of toolsIn(r.api, r.body)) names.add(n);
    return [...names];
  };

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    mainRequests,
    toolResults,
    mcpResults: () => toolResults().filter((r) => isMcp(r.name)),
    toolsOffered: () => {
      const last = latestMain();
      return last ? toolsIn(last.api, last.body) : [];
    },
    allToolsOffered: allTools,
    mcpToolsOffered: () => allTools().filter(isMcp).map(bare),
    errors,
    finalServed,
    served(n: number) {
      const already = stepsServed.get(n);
      if (already) return Promise.resolve(already);
      return new Promise((resolve) => {
        const list = stepWaiters.get(n) ?? [];
        list.push(resolve);
        stepWaiters.set(n, list);
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        http.closeAllConnections();
        http.close(() => resolve());
      }),
  };
}

// ---------------------------------------------------------------------------------------------------

function json(res: ServerResponse, value: unknown): void {
  res.writeHead(200, { "content-type": "application/json" });
  res.end(JSON.stringify(value));
}

/** Runs `fn` now, or after `ms` (a model's answer held back). */
function later(ms: number, fn: () => void): void {
  if (ms > 0) setTimeout(fn, ms);
  else fn();
}

function sseStart(res: ServerResponse): void {
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
}

/** A harmless answer to a side call: a title where one is asked for, else a short text. */
function sideText(request: string): string {
  if (/json/i.test(request) && /title/i.test(request)) return '{"title": "Background jobs", "isNewTopic": false}';
  if (/title/i.test(request)) return "Background jobs";
  return "OK";
}

/**
 * A value that fits a JSON schema (Gemini CLI's router and next-speaker checks ask for JSON): the first
 * enum value, except that a next speaker is always the user (else the host would ask the model to go on).
 */
export function fillSchema(schema: Json, key = ""): unknown {
  const type = str(schema.type).toLowerCase();
  if (Array.isArray(schema.enum) && schema.enum.length > 0) {
    if (/speaker/i.test(key) && schema.enum.includes("user")) return "user";
    return schema.enum[0];
  }
  if (type === "object" || schema.properties) {
    const out: Json = {};
    for (const [k, sub] of Object.entries((schema.properties ?? {}) as Record<string, Json>))
      out[k] = fillSchema(sub, k);
    return out;
  }
  if (type === "array") return [];
  // At least 1: Gemini CLI's router reads a "complexity score from 1-100" and refuses 0.
  if (type === "number" || type === "integer") return typeof schema.minimum === "number" ? schema.minimum : 1;
  if (type === "boolean") return false;
  if (/speaker/i.test(key)) return "user";
  return "ok";
}
