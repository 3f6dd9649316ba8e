// The output, rendered by its schema type and its value.

import { make } from "./controls.js";

const MEDIA = [
  ["image", /^data:image\/|\.(png|jpe?g|gif|webp|svg|bmp|avif)(\?|$)/i],
  ["audio", /^data:audio\/|\.(mp3|wav|ogg|flac|m4a|aac)(\?|$)/i],
  ["video", /^data:video\/|\.(mp4|webm|mov|mkv)(\?|$)/i],
];

const isUrl = (value) => typeof value === "string" && /^(data:|https?:\/\/)/.test(value);

export function concatenates(schema) {
  return schema?.type === "array" && schema["x-cog-array-display"] === "concatenate";
}

// A data URI carries no file name; its media type gives the extension.
function dataUriName(url) {
  const subtype = (/^data:[^/;,]+\/([^;,+]+)/.exec(url) || [])[1] || "bin";
  return `output.${{ plain: "txt", "x-wav": "wav", mpeg: "mp3", "octet-stream": "bin" }[subtype] || subtype}`;
}

function fileElement(url, schema) {
  const kind = MEDIA.find(([, pattern]) => pattern.test(url.slice(0, 64)) || pattern.test(url))?.[0];
  if (kind === "image") return make("img", { src: url, alt: "output image" });
  if (kind === "audio") return make("audio", { src: url, controls: true, ariaLabel: "output audio" });
  if (kind === "video") return make("video", { src: url, controls: true, ariaLabel: "output video" });
  const name = url.startsWith("data:") ? dataUriName(url) : url.split("/").pop().split("?")[0];
  return make("a", { href: url, download: name, textContent: `Download ${name}` });
}

function valueElement(value, schema = {}) {
  if (value === null || value === undefined) return make("span");
  if (Array.isArray(value)) {
    if (concatenates(schema)) return make("pre", { className: "text", textContent: value.join("") });
    const items = value.map((item) => valueElement(item, schema.items || {}));
    return make("div", { className: "gallery", role: "list" }, ...items.map((item) => make("div", { role: "listitem" }, item)));
  }
  if (isUrl(value) && (schema.format === "uri" || value.startsWith("data:"))) return fileElement(value, schema);
  if (typeof value === "string") return make("pre", { className: "text", textContent: value });
  return make("pre", { className: "json", textContent: JSON.stringify(value, null, 2) });
}

export function renderOutput(container, value, schema) {
  container.replaceChildren(valueElement(value, schema));
}
