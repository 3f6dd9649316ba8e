// The request as a curl command against the model itself (not the playground).

const quote = (text) => `'${text.replace(/'/g, `'\\''`)}'`;

export function curlCommand(target, body, mode) {
  const lines = [`curl -s -X POST ${quote(`${target}/predictions`)}`, `-H 'Content-Type: application/json'`];
  if (mode === "stream") lines.push(`-H 'Accept: text/event-stream'`);
  if (mode === "async") {
    lines.push(`-H 'Prefer: respond-async'`);
    body = { ...body, webhook: "https://example.com/your-webhook" };
  }
  lines.push(`-d ${quote(JSON.stringify(body))}`);
  return lines.join(" \\\n  ");
}
