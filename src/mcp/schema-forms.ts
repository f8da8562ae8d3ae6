import type { StandardSchemaWithJSON } from "@modelcontextprotocol/server";
import { z } from "zod";

/**
 * An input object in which `null` counts as absent for the optional keys that do not take null:
 * clients with strict schemas send `"cwd": null` for an argument they leave out. The advertised
 * JSON Schema stays the same (zod describes a preprocess by its inner schema); a required key
 * given null is still refused.
 */
export function nullAsAbsent<T extends z.ZodObject>(obj: T): StandardSchemaWithJSON<z.input<T>, z.output<T>> {
  const optional = Object.entries(obj.shape as Record<string, z.ZodType>)
    .filter(([, s]) => s._zod.optin !== undefined && !s.safeParse(null).success)
    .map(([k]) => k);
  const schema = z.preprocess((v) => {
    if (v === null || typeof v !== "object" || Array.isArray(v)) return v;
    const out: Record<string, unknown> = { ...v };
    for (const k of optional) if (out[k] === null) delete out[k];
    return out;
  }, obj) as unknown as StandardSchemaWithJSON<z.input<T>, z.output<T>>;
  return withoutDialect(schema);
}

// The JSON Schema without `$schema`: 2020-12 is MCP's default dialect, and every tool listing
// carried those 56 characters to the agent once per tool.
function withoutDialect<I, O>(schema: StandardSchemaWithJSON<I, O>): StandardSchemaWithJSON<I, O> {
  const std = schema["~standard"];
  const strip = (s: Record<string, unknown>) => {
    const { $schema: _, ...rest } = s;
    return rest;
  };
  return {
    "~standard": {
      ...std,
      jsonSchema: {
        input: (opts) => strip(std.jsonSchema.input(opts)),
        output: (opts) => strip(std.jsonSchema.output(opts)),
      },
    },
  };
}

type Json = unknown;

// Every nullable written one way: zod writes `type: ["string", "null"]` for a bare type and
// `anyOf` for anything with more to it (bounds, enums); validators in strict modes warn on the mix.
function nullsAsAnyOf(node: Json): Json {
  if (Array.isArray(node)) return node.map(nullsAsAnyOf);
  if (node === null || typeof node !== "object") return node;
  const out = Object.fromEntries(Object.entries(node).map(([k, v]) => [k, nullsAsAnyOf(v)]));
  if (Array.isArray(out.type) && out.type.includes("null")) {
    const { type, ...rest } = out as { type: string[] };
    return { ...rest, anyOf: type.map((t) => ({ type: t })) };
  }
  return out;
}

/** An output schema whose JSON Schema writes every nullable field as `anyOf`; validation is zod's. */
export function uniformNullables<I, O>(schema: StandardSchemaWithJSON<I, O>): StandardSchemaWithJSON<I, O> {
  const std = schema["~standard"];
  return {
    "~standard": {
      ...std,
      jsonSchema: {
        input: (opts) => nullsAsAnyOf(std.jsonSchema.input(opts)) as Record<string, unknown>,
        output: (opts) => nullsAsAnyOf(std.jsonSchema.output(opts)) as Record<string, unknown>,
      },
    },
  };
}
