// One control per input kind. Each returns { element, focusable, read(), write(value) };
// read() gives the value to send (undefined when empty), write() shows a value.

const make = (tag, props = {}, ...children) => {
  const element = Object.assign(document.createElement(tag), props);
  element.append(...children);
  return element;
};
export { make };

function numberControl(id, schema, integer) {
  const input = make("input", { id, type: "number", step: integer ? "1" : "any" });
  if (schema.minimum !== undefined) input.min = schema.minimum;
  if (schema.maximum !== undefined) input.max = schema.maximum;
  return {
    element: input, focusable: input,
    read: () => (input.validity.badInput ? NaN : input.value === "" ? undefined : Number(input.value)),
    write: (value) => { input.value = value ?? ""; },
  };
}

function choiceControl(id, schema, required) {
  const select = make("select", { id });
  if (!required) select.append(make("option", { value: "", textContent: "(none)" }));
  for (const choice of schema.enum) select.append(make("option", { value: String(choice), textContent: String(choice) }));
  const typed = (text) => schema.enum.find((choice) => String(choice) === text);
  return {
    element: select, focusable: select,
    read: () => (select.value === "" ? undefined : typed(select.value)),
    write: (value) => { select.value = value === undefined || value === null ? "" : String(value); },
  };
}

function textControl(id, kind) {
  const input = kind === "secret"
    ? make("input", { id, type: "password", autocomplete: "off" })
    : make("textarea", { id, rows: 2 });
  return {
    element: input, focusable: input,
    read: () => (input.value === "" ? undefined : input.value),
    write: (value) => { input.value = value ?? ""; },
  };
}

function booleanControl(id) {
  const box = make("input", { id, type: "checkbox" });
  return { element: box, focusable: box, read: () => box.checked, write: (value) => { box.checked = Boolean(value); } };
}

function jsonControl(id) {
  const area = make("textarea", { id, rows: 3, spellcheck: false });
  return {
    element: area, focusable: area,
    read: () => {
      if (area.value.trim() === "") return undefined;
      try { return JSON.parse(area.value); } catch { return NaN; }
    },
    write: (value) => { area.value = value === undefined ? "" : JSON.stringify(value); },
  };
}

const readAsDataUri = (file) => new Promise((done, failed) => {
  const reader = new FileReader();
  reader.onload = () => done(reader.result);
  reader.onerror = () => failed(reader.error);
  reader.readAsDataURL(file);
});

// A picker (or a drop) sends the file as a data URI; the URL box takes a URL instead.
function fileControl(id, name, changed) {
  const picker = make("input", { id, type: "file" });
  const url = make("input", { id: `${id}-url`, type: "url", placeholder: "https://…" });
  const urlLabel = make("label", { htmlFor: url.id, textContent: `${name} URL`, className: "description" });
  let dataUri;
  const take = async (file) => {
    dataUri = file ? await readAsDataUri(file) : undefined;
    if (file) url.value = "";
    changed();
  };
  picker.addEventListener("change", () => take(picker.files[0]));
  url.addEventListener("input", () => { dataUri = undefined; picker.value = ""; });
  const element = make("div", {}, picker, urlLabel, url);
  element.addEventListener("dragover", (event) => { event.preventDefault(); element.parentElement.classList.add("drop"); });
  element.addEventListener("dragleave", () => element.parentElement.classList.remove("drop"));
  element.addEventListener("drop", (event) => {
    event.preventDefault();
    element.parentElement.classList.remove("drop");
    if (event.dataTransfer.files[0]) take(event.dataTransfer.files[0]);
  });
  return {
    element, focusable: picker,
    read: () => dataUri ?? (url.value === "" ? undefined : url.value),
    write: (value) => { dataUri = undefined; picker.value = ""; url.value = value ?? ""; },
  };
}

export function controlFor(field, id, changed) {
  switch (field.kind) {
    case "choice": return choiceControl(id, field.schema, field.required);
    case "boolean": return booleanControl(id);
    case "integer": return numberControl(id, field.schema, true);
    case "number": return numberControl(id, field.schema, false);
    case "file": return fileControl(id, field.name, changed);
    case "string": case "secret": return textControl(id, field.kind);
    case "list": return listControl(field, id, changed);
    default: return jsonControl(id);
  }
}

// A list, added to item by item; each item is a control of the item's kind.
function listControl(field, id, changed) {
  const items = [];
  const box = make("div", { id, className: "items" });
  const add = make("button", { type: "button", textContent: `Add ${field.name} item` });
  const renumber = () => items.forEach((item, index) => {
    item.label.textContent = `${field.name} item ${index + 1}`;
    item.remove.setAttribute("aria-label", `Remove ${field.name} item ${index + 1}`);
  });
  const addItem = (value) => {
    const itemId = `${id}-${items.length}-${Date.now()}`;
    const control = controlFor({ ...field.item, required: true }, itemId, changed);
    const label = make("label", { htmlFor: itemId, className: "description" });
    const remove = make("button", { type: "button", textContent: "×" });
    const row = make("div", { className: "item" }, label, control.element, remove);
    const item = { control, label, remove, row };
    remove.addEventListener("click", () => { items.splice(items.indexOf(item), 1); row.remove(); renumber(); changed(); });
    items.push(item);
    box.append(row);
    renumber();
    if (value !== undefined) control.write(value);
    return control;
  };
  add.addEventListener("click", () => { addItem().focusable.focus(); changed(); });
  const element = make("div", {}, box, add);
  return {
    element, focusable: add,
    read: () => (items.length === 0 ? undefined : items.map((item) => item.control.read())),
    write: (values) => { items.splice(0).forEach((item) => item.row.remove()); (values || []).forEach(addItem); },
  };
}
