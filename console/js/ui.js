// @ts-check
// Small DOM helpers shared by every screen: element builder, labelled fields, money, one-shot actions.
import { ApiError } from "./api.js";

let nextId = 0;
export const uid = (prefix = "f") => `${prefix}-${++nextId}`;

/** h("button", {class: "x", onclick: fn, disabled: true}, "text", child, [more]) */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else if (key === "text") el.textContent = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, value);
  }
  append(el, children);
  return el;
}

/** el.replaceChildren for h()'s kinds of children (null and false skipped, arrays flattened). */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

/**
 * A labelled control: returns the wrapper; the control is wrapper.control.
 * @param {string} label
 * @param {Record<string, any>} [attrs]
 * @param {{ hint?: string, tag?: string, options?: Array<[string, string]> }} [more]
 */
export function field(label, attrs = {}, { hint, tag = "input", options } = {}) {
  const id = attrs.id || uid();
  const control =
    tag === "select"
      ? h("select", { ...attrs, id }, (options || []).map(([v, t]) => h("option", { value: v }, t)))
      : h(tag, { ...attrs, id });
  const hintEl = hint ? h("small", { class: "hint", id: `${id}-hint` }, hint) : null;
  if (hintEl) control.setAttribute("aria-describedby", hintEl.id);
  const wrap = h("div", { class: "field" }, h("label", { for: id }, label), control, hintEl);
  wrap.control = control;
  return wrap;
}

/** A group of radio buttons under a legend; wrapper.value() is the checked value. */
export function radios(legend, name, choices, checked) {
  const set = h(
    "fieldset",
    { class: "radios" },
    h("legend", {}, legend),
    choices.map(([value, text]) => {
      const id = uid(name);
      return h(
        "span",
        { class: "choice" },
        h("input", { type: "radio", name, id, value, checked: value === checked }),
        h("label", { for: id }, text),
      );
    }),
  );
  set.value = () => set.querySelector("input:checked")?.value || null;
  return set;
}

export function fen(amount) {
  if (amount === null || amount === undefined) return "–";
  const sign = amount < 0 ? "-" : "";
  const abs = Math.abs(amount);
  const whole = Math.floor(abs / 100).toLocaleString("en-US");
  return `${sign}¥${whole}.${String(abs % 100).padStart(2, "0")}`;
}

/** "12.5" -> 1250 fen; NaN for anything that is not a non-negative amount with at most 2 decimals. */
export function yuanToFen(text) {
  const m = /^\s*(\d{1,9})(?:\.(\d{1,2}))?\s*$/.exec(text || "");
  if (!m) return NaN;
  return Number(m[1]) * 100 + Number((m[2] || "").padEnd(2, "0"));
}

export function intOf(text) {
  return /^\s*\d+\s*$/.test(text || "") ? Number(text) : NaN;
}

export function shortId(id) {
  return id ? `…${String(id).slice(-8)}` : "–";
}

export function when(iso) {
  if (!iso) return "–";
  const d = new Date(iso);
  return d.toLocaleString("en-GB", {
    timeZone: "Asia/Shanghai",
    dateStyle: "medium",
    timeStyle: "short",
  });
}

export function props(p) {
  const entries = Object.entries(p || {});
  return entries.length ? entries.map(([k, v]) => `${k}: ${v}`).join(", ") : "–";
}

/** An API error (or a network failure) in plain words. */
export function plain(error) {
  if (error instanceof ApiError) {
    const lead = {
      0: "The API could not be reached",
      400: "Please check the form",
      401: "Your session has ended; sign in again",
      403: "Your account may not do this",
      404: "Not found",
      409: "Not possible right now",
    }[error.status];
    if (error.status >= 500) return `The server failed (${error.status}); try again in a moment. ${error.message}`;
    return lead ? `${lead}: ${error.message}` : error.message;
  }
  return error?.message || String(error);
}

export function errorBox() {
  return h("p", { class: "error", role: "alert", hidden: true });
}

export function showError(box, error) {
  box.textContent = plain(error);
  box.hidden = false;
}

export function clearError(box) {
  box.textContent = "";
  box.hidden = true;
}

/**
 * Run one action from one button: the button is disabled while it runs (no double submission), the
 * error box next to it shows what went wrong in plain words.
 */
export async function act(button, box, fn) {
  if (button.disabled) return undefined;
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  clearError(box);
  try {
    return await fn();
  } catch (error) {
    showError(box, error);
    return undefined;
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
  }
}

/** A form whose submit (button or Enter) runs `fn(form)` once at a time. */
export function form(attrs, children, submitText, fn, { box = errorBox(), extra = null } = {}) {
  const submit = h("button", { type: "submit", class: "primary" }, submitText);
  const el = h("form", { ...attrs, novalidate: true }, children, h("div", { class: "actions" }, submit, extra), box);
  el.addEventListener("submit", (event) => {
    event.preventDefault();
    act(submit, box, () => fn(el));
  });
  el.addEventListener("input", () => clearError(box)); // the error goes once the user corrects
  el.submitButton = submit;
  el.errorBox = box;
  return el;
}

export function say(text) {
  const live = /** @type {HTMLElement} */ (document.getElementById("live")); // index.html's live region
  live.textContent = "";
  setTimeout(() => (live.textContent = text), 50);
}

export function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

export function table(headers, rows, caption) {
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      {},
      caption ? h("caption", {}, caption) : null,
      h("thead", {}, h("tr", {}, headers.map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, rows),
    ),
  );
}

export function loading(view, text = "Loading…") {
  fill(view, h("p", { class: "muted" }, text));
}

export function fail(view, error, title) {
  fill(view, h("h1", {}, title || "Something went wrong"), h("p", { class: "error", role: "alert" }, plain(error)));
}
