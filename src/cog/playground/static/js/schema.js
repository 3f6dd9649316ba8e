// Reading Cog's OpenAPI document: the inputs in x-order, their kinds, the output's shape.

function resolve(doc, node) {
  if (!node) return {};
  if (node.$ref) return resolve(doc, lookup(doc, node.$ref));
  const parts = node.allOf || node.anyOf?.filter((part) => part.type !== "null");
  if (parts && parts.length === 1) {
    const { allOf, anyOf, ...rest } = node;
    return { ...resolve(doc, parts[0]), ...rest };
  }
  return node;
}

function lookup(doc, ref) {
  return ref.replace(/^#\//, "").split("/").reduce((node, key) => node?.[key], doc) || {};
}

export function kindOf(schema) {
  if (schema.enum) return "choice";
  if (schema.format === "password" || schema["x-cog-secret"]) return "secret";
  if (schema.type === "boolean") return "boolean";
  if (schema.type === "integer") return "integer";
  if (schema.type === "number") return "number";
  if (schema.type === "string" && schema.format === "uri") return "file";
  if (schema.type === "string") return "string";
  if (schema.type === "array") return "list";
  return "json";
}

function field(doc, name, raw, required) {
  const schema = resolve(doc, raw);
  const field = { name, schema, required, kind: kindOf(schema), order: raw["x-order"] ?? 1e9 };
  if (field.kind === "list") field.item = { schema: resolve(doc, schema.items), name };
  if (field.item) field.item.kind = kindOf(field.item.schema);
  return field;
}

export function inputsOf(doc, component = "Input") {
  const input = doc?.components?.schemas?.[component] || {};
  const required = new Set(input.required || []);
  return Object.entries(input.properties || {})
    .map(([name, raw]) => field(doc, name, raw, required.has(name)))
    .sort((a, b) => a.order - b.order);
}

export function outputOf(doc) {
  return resolve(doc, doc?.components?.schemas?.Output);
}

export function streams(doc) {
  return Boolean(doc?.paths?.["/predictions"]?.post?.["x-cog-streaming"]);
}
