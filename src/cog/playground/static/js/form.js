// The input form: one labelled control per input in x-order, checked as the person types.

import { controlFor, make } from "./controls.js";
import { problemWith } from "./validate.js";

function boundsOf(schema) {
  const low = schema.minimum ?? schema.exclusiveMinimum;
  const high = schema.maximum ?? schema.exclusiveMaximum;
  if (low !== undefined && high !== undefined) return `from ${low} to ${high}`;
  if (low !== undefined) return `at least ${low}`;
  return high !== undefined ? `at most ${high}` : "";
}

function row(field, changed) {
  const id = `input-${field.name}`;
  const control = controlFor(field, id, changed);
  const label = make("label", { htmlFor: id, textContent: field.name });
  // The mark sits outside the label, so that the label is the input's name and nothing else.
  const mark = make("span", { className: "required", textContent: field.required ? " *" : "", title: "required", ariaHidden: "true" });
  if (field.required) control.focusable.setAttribute("aria-required", "true");
  const description = make("p", { id: `${id}-description`, className: "description", textContent: field.schema.description || "" });
  const bounds = make("p", { className: "bounds", textContent: boundsOf(field.schema) });
  const error = make("p", { id: `${id}-error`, className: "error", role: "alert" });
  control.focusable.setAttribute("aria-describedby", `${description.id} ${error.id}`);
  const element = make("div", { className: "field", id: `field-${field.name}` }, label, mark, control.element, description, bounds, error);
  if (field.kind === "list") {
    element.setAttribute("role", "group");
    element.setAttribute("aria-label", field.name);
  }
  control.write(field.schema.default);
  return { field, control, element, error, touched: false };
}

export function buildForm(form, fields, onChange) {
  form.replaceChildren();
  const rows = [];
  const check = (entry) => {
    const problem = problemWith(entry.field, entry.control.read());
    entry.error.textContent = problem ? `${entry.field.name} ${problem}` : "";
    entry.control.focusable.setAttribute("aria-invalid", problem ? "true" : "false");
    return problem;
  };
  const changedRow = (entry) => () => { entry.touched = true; check(entry); onChange(); };
  const deprecated = make("details", {}, make("summary", { textContent: "Deprecated inputs" }));
  for (const field of fields) {
    const entry = {};
    Object.assign(entry, row(field, () => changedRow(entry)()));
    entry.element.addEventListener("input", changedRow(entry));
    entry.element.addEventListener("change", changedRow(entry));
    rows.push(entry);
    (field.schema.deprecated ? deprecated : form).append(entry.element);
  }
  if (deprecated.children.length > 1) form.append(deprecated);

  return {
    values() {
      const values = {};
      for (const entry of rows) {
        const value = entry.control.read();
        if (value !== undefined) values[entry.field.name] = value;
      }
      return values;
    },
    set(values) {
      for (const entry of rows) {
        entry.control.write(values[entry.field.name]);
        if (entry.touched) check(entry);
      }
    },
    // Every problem shown; the first bad control focused. True when the input looks right.
    validate() {
      const bad = rows.filter((entry) => check(entry));
      bad[0]?.control.focusable.focus();
      return bad.length === 0;
    },
    // The server's 422 detail, each message beside the field it names.
    showServerErrors(detail) {
      const unplaced = [];
      for (const item of detail) {
        const name = Array.isArray(item.loc) ? item.loc[item.loc.indexOf("input") + 1] : undefined;
        const entry = rows.find((candidate) => candidate.field.name === name);
        if (!entry) { unplaced.push(item.msg); continue; }
        entry.error.textContent = `${name}: ${item.msg}`;
        entry.control.focusable.setAttribute("aria-invalid", "true");
      }
      return unplaced;
    },
  };
}
