// Checking a value against its input's schema as the person types (the server has the last word).

export function problemWith(field, value) {
  if (value === undefined) return field.required ? "is required" : null;
  if (field.kind === "list") {
    for (const [index, item] of value.entries()) {
      const problem = problemWith({ ...field.item, required: true }, item);
      if (problem) return `item ${index + 1} ${problem}`;
    }
    return null;
  }
  return scalarProblem(field.schema, field.kind, value);
}

// A Python pattern JavaScript cannot read is left to the server (undefined: not checked).
function matches(pattern, value) {
  try { return new RegExp(pattern, "u").test(value); } catch { return undefined; }
}

function scalarProblem(schema, kind, value) {
  if (kind === "json" && Number.isNaN(value)) return "must be valid JSON";
  if (kind === "integer" || kind === "number") {
    if (typeof value !== "number" || Number.isNaN(value)) return "must be a number";
    if (kind === "integer" && !Number.isInteger(value)) return "must be a whole number";
    if (schema.minimum !== undefined && value < schema.minimum)
      return `must be greater than or equal to ${schema.minimum}`;
    if (schema.maximum !== undefined && value > schema.maximum)
      return `must be less than or equal to ${schema.maximum}`;
    if (schema.exclusiveMinimum !== undefined && value <= schema.exclusiveMinimum)
      return `must be greater than ${schema.exclusiveMinimum}`;
    if (schema.exclusiveMaximum !== undefined && value >= schema.exclusiveMaximum)
      return `must be less than ${schema.exclusiveMaximum}`;
  }
  if (schema.enum && !schema.enum.includes(value))
    return `must be one of: ${schema.enum.join(", ")}`;
  if (typeof value === "string") {
    if (schema.minLength !== undefined && value.length < schema.minLength)
      return `must have at least ${schema.minLength} characters`;
    if (schema.maxLength !== undefined && value.length > schema.maxLength)
      return `must have at most ${schema.maxLength} characters`;
    if (schema.pattern && matches(schema.pattern, value) === false) return `must match ${schema.pattern}`;
  }
  return null;
}
