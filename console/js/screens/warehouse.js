// @ts-check
// Warehouse screens: inbound scanning, exceptional parcels, inspection with QC photos, packing and
// shipping, 4x6 in labels, the destruction queue and after-sales.
import { ApiError, get, post, publicGet } from "../api.js";
import { previewer, settlementKind, settlementText } from "../settlement.js";
import {
  act,
  errorBox,
  fen,
  field,
  form,
  fill, h,
  intOf,
  newKey,
  plain,
  props,
  radios,
  say,
  shortId,
  showError,
  table,
  uid,
  when,
  yuanToFen,
} from "../ui.js";

import { customsForm } from "./customs.js";
import { serviceChecklist } from "./packing_checklist.js";

/** @typedef {import("procure-api").components["schemas"]} Schemas (generated from docs/openapi.json) */

/** "1 parcel", "2 parcels" (`many` when the plural is not word + s). */
const counted = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** The customer reference printed on labels: the owner id's last 8 characters. */
const customerRef = (userId) => (userId ? String(userId).slice(-8).toUpperCase() : "–");

const items = new Map(); // item_id -> the last item JSON seen (queues carry full items)
const remember = (list) => list.forEach((i) => items.set(i.item_id, i));

async function itemQueue(status) {
  /** @type {Schemas["StaffItemPage"]} */
  const page = await get(`/staff/items?status=${status}&limit=100`);
  remember(page.items);
  return page;
}

// --- inbound -------------------------------------------------------------------------------------------

// A keyboard-wedge scanner does not wait for answers: Enter queues the scan and frees the field at once,
// one sender posts the queue in scan order, and a network or server failure is retried (a repeated scan
// of one tracking number is harmless: the API answers "already received").
const scans = []; // every scan of this browser tab, newest first: { no, body, state, note, attempts }
const WAITING = { pending: "Pending", sending: "Sending…", retrying: "Retrying" };
const FAILED = "Not recorded";
let sending = false;
let screen = null; // the inbound screen's live parts while it is shown

const OUTCOME = {
  matched: ["ok", "Matched", "Expected goods: put them on the inspection shelf."],
  exceptional: ["warn", "Exceptional", "Nobody expects this parcel: put it on the exceptional shelf."],
  already: ["info", "Already received", "This parcel was scanned before: nothing changed."],
};

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const retryable = (error) => error instanceof ApiError && (error.status === 0 || error.status === 429 || error.status >= 500);
const stateText = (s) => OUTCOME[s.state]?.[1] || WAITING[s.state] || FAILED;

function renderScans() {
  if (!screen?.history.isConnected) return;
  const waiting = scans.filter((s) => s.state in WAITING).length;
  fill(screen.count, waiting ? `${waiting} scan${waiting === 1 ? "" : "s"} waiting to be sent, in scan order.` : "Every scan is sent.");
  fill(screen.history, ...scans.slice(0, 50).map((s) => h("li", { class: `k-${s.state}`, dataset: { tracking: s.no, state: s.state } }, `${s.no}: ${stateText(s)}${s.note ? ` · ${s.note}` : ""}`)));
}

async function sendScan(scan) {
  scan.state = "sending";
  scan.attempts += 1;
  renderScans();
  try {
    /** @type {Schemas["ScannedParcel"]} */
    const parcel = await post("/staff/inbound", scan.body);
    const kind = parcel.already_received ? "already" : parcel.status === "matched" ? "matched" : "exceptional";
    scan.state = kind;
    scan.note = kind === "already" && scan.attempts > 1 ? "recorded by an earlier try" : "";
    renderScans();
    // not awaited: the expected items' lookup must not hold the next scan back
    if (screen?.feedback.isConnected) showScan(screen.feedback, parcel, kind).catch(() => undefined);
  } catch (error) {
    if (retryable(error)) {
      const wait = Math.min(16000, 1000 * 2 ** Math.min(scan.attempts - 1, 4));
      scan.state = "retrying";
      scan.note = `${plain(error)}; trying again in ${wait / 1000} s`;
      renderScans();
      await sleep(wait);
      return;
    }
    scan.state = "failed";
    scan.note = plain(error);
    renderScans();
    // its own alert: the form's error box clears on the next keystroke, which a scanner sends at once
    if (screen?.alert.isConnected) showError(screen.alert, `${scan.no} not recorded. ${plain(error)}`);
    say(`Not recorded: ${scan.no}`);
  }
}

async function drain() {
  if (sending) return;
  sending = true;
  try {
    for (let next = oldestWaiting(); next; next = oldestWaiting()) await sendScan(next);
  } finally {
    sending = false;
  }
}

function oldestWaiting() {
  for (let n = scans.length - 1; n >= 0; n -= 1) if (scans[n].state === "pending" || scans[n].state === "retrying") return scans[n];
  return null;
}

// the console's own labels carry the item or package id (Code 128): scanned here, they open its screen
const LABEL = /^(itm|pkg)_[0-9A-Za-z]+$/i;

async function openLabel(code) {
  const id = code.slice(0, 4).toLowerCase() + code.slice(4);
  if (id.startsWith("pkg_")) {
    location.hash = `#/packages/${id}`;
    return;
  }
  /** @type {Schemas["StaffItem"]} */
  const item = await get(`/staff/items/${id}`);
  items.set(item.item_id, item);
  if (item.status === "abandoned") location.hash = "#/destruction";
  else if (item.package_id && item.status !== "received") location.hash = `#/packages/${item.package_id}`;
  else location.hash = `#/inspection/${item.item_id}`;
}

export async function inbound(view) {
  const feedback = h("section", { class: "scan-feedback", "aria-live": "assertive", "aria-atomic": "true" });
  const history = h("ol", { class: "scan-history", "aria-label": "Scans on this screen" });
  const count = h("p", { class: "scan-count", role: "status" });
  const tracking = field("Tracking number (scan)", { name: "tracking_no", autocomplete: "off", autocapitalize: "characters", spellcheck: "false", class: "scan-input", maxlength: 64 }, { hint: "Scan the domestic parcel's barcode (the scanner presses Enter), or type it and press Enter. Scans are queued: keep scanning. An item or package label opens its screen." });
  const carrier = field("Carrier (optional)", { name: "carrier", maxlength: 64, autocomplete: "off" });
  const weight = field("Parcel weight in g (optional)", { name: "weight_g", inputmode: "numeric", autocomplete: "off" });
  const f = form({ class: "scan-form", "aria-label": "Inbound scan" }, [tracking, h("details", {}, h("summary", {}, "Carrier and weight"), h("div", { class: "row" }, carrier, weight))], "Receive", async () => {
    const no = tracking.control.value.trim();
    tracking.control.value = ""; // free the field now: the scanner's next characters start the next scan
    tracking.control.focus();
    if (!no) throw new Error("Scan or type a tracking number.");
    if (LABEL.test(no)) return openLabel(no);
    const body = { tracking_no: no };
    if (carrier.control.value.trim()) body.carrier = carrier.control.value.trim();
    if (weight.control.value.trim()) {
      const g = intOf(weight.control.value);
      if (Number.isNaN(g) || g < 1) {
        tracking.control.value = no;
        throw new Error("The weight is a whole number of grams.");
      }
      body.weight_g = g;
    }
    weight.control.value = "";
    scans.unshift({ no, body, state: "pending", note: "", attempts: 0 });
    renderScans();
    drain();
  });
  const alert = errorBox();
  screen = { feedback, history, count, alert };
  fill(view, h("h1", {}, "Inbound scan"), f, alert, feedback, h("h2", {}, "This session"), count, history);
  renderScans();
  tracking.control.focus();
}

let shown = 0; // the newest answer shown wins over a slower lookup for an older one

async function showScan(box, parcel, kind) {
  const mine = ++shown;
  const [tone, title, advice] = OUTCOME[kind];
  let expected = null;
  if (parcel.item_ids?.length) {
    const page = await itemQueue("received").catch(() => ({ items: [] }));
    const known = new Map(page.items.map((i) => /** @type {const} */ ([i.item_id, i])));
    expected = h(
      "ul",
      { class: "expected" },
      parcel.item_ids.map((id) => {
        const i = known.get(id);
        return h("li", {}, i ? [h("strong", {}, `${i.title} × ${i.quantity}`), ` ${props(i.props)} · `, h("code", {}, shortId(id)), ` · ref ${customerRef(i.user_id)}`, i.remark ? ` · remark: ${i.remark}` : "", " ", h("a", { href: `#/inspection/${id}` }, "Inspect"), " ", h("a", { href: `#/label/item/${id}` }, "Label")] : `item ${shortId(id)}`);
      }),
    );
  }
  if (mine !== shown) return;
  box.className = `scan-feedback big ${tone}`;
  fill(box, 
    h("p", { class: "verdict" }, title),
    h("p", {}, `${parcel.tracking_no} · parcel ${shortId(parcel.parcel_id)} · ${advice}`),
    parcel.storage_expires_at ? h("p", {}, `Kept until ${when(parcel.storage_expires_at)} unless someone claims it.`) : null,
    expected ? [h("p", {}, `Expected items (${parcel.item_ids.length}):`), expected] : null,
  );
  say(`${title}: ${parcel.tracking_no}`);
}

// --- exceptional parcels --------------------------------------------------------------------------------

export async function parcels(view) {
  /** @type {Schemas["ParcelPage"]} */
  const page = await get("/staff/parcels?status=exceptional&limit=100");
  const cards = page.items.map((p) => {
    const email = field("Customer email", { type: "email", autocomplete: "off" });
    const ids = field("or item ids (comma separated)", { autocomplete: "off" });
    const note = field("Description (optional)", { maxlength: 500, autocomplete: "off" });
    const f = form({ class: "inline-form", "aria-label": `Assign parcel ${p.tracking_no}` }, [h("div", { class: "row" }, email, ids), note], "Assign", async () => {
      const body = {};
      const itemIds = ids.control.value.split(/[\s,]+/).filter(Boolean);
      if (email.control.value.trim() && itemIds.length) throw new Error("Give a customer email or item ids, not both.");
      if (email.control.value.trim()) body.customer_email = email.control.value.trim();
      else if (itemIds.length) body.item_ids = itemIds;
      else throw new Error("Give the customer's email or the item ids this parcel holds.");
      if (note.control.value.trim()) body.description = note.control.value.trim();
      await post(`/staff/parcels/${p.parcel_id}/assign`, body);
      say(`Parcel ${p.tracking_no} assigned.`);
      await parcels(view);
    });
    const reason = field("Why it was a wrong scan", { maxlength: 500, autocomplete: "off" });
    const undo = form({ class: "inline-form void", "aria-label": `Void parcel ${p.tracking_no}` }, [reason], "Void wrong scan", async () => {
      if (!reason.control.value.trim()) throw new Error("Say why this scan was wrong.");
      await post(`/staff/parcels/${p.parcel_id}/void`, { reason: reason.control.value.trim() });
      say(`Parcel ${p.tracking_no} voided.`);
      await parcels(view);
    });
    undo.submitButton.className = "danger";
    const voidable = !p.contested && !p.item_ids.length;
    return h("section", { class: "card", dataset: { parcelId: p.parcel_id } }, h("h2", {}, p.tracking_no, h("small", {}, ` ${p.carrier || ""}`)), h("p", {}, `Received ${when(p.received_at)}${p.weight_g ? ` · ${p.weight_g} g` : ""} · kept until ${when(p.storage_expires_at)}`), f, voidable ? h("details", { class: "void" }, h("summary", {}, "Scanned by mistake? Void it (soon after the scan)"), undo) : null);
  });
  fill(view, h("h1", {}, "Exceptional parcels"), h("p", { class: "summary" }, `${counted(page.items.length, "parcel")} nobody expected, oldest first. Assign one when a customer identifies it.`), ...(cards.length ? cards : [h("p", { class: "empty" }, "No exceptional parcel.")]));
}

// --- inspection --------------------------------------------------------------------------------------

export async function inspectionQueue(view) {
  const page = await itemQueue("received");
  const rows = page.items.map((i) =>
    h(
      "tr",
      {},
      h("td", {}, h("a", { href: `#/inspection/${i.item_id}` }, i.title), h("br"), h("small", {}, props(i.props))),
      h("td", {}, h("code", {}, shortId(i.item_id)), h("br"), h("small", {}, `ref ${customerRef(i.user_id)}`)),
      h("td", { class: "num" }, i.quantity),
      h("td", {}, i.remark || "–", i.remark_history.length > 1 ? h("small", { class: "muted" }, ` (changed ${i.remark_history.length - 1}×; the latest counts)`) : null),
      h("td", {}, when(i.received_at)),
      h("td", {}, h("a", { href: `#/label/item/${i.item_id}` }, "Label")),
    ),
  );
  fill(view, h("h1", {}, "Inspection"), h("p", { class: "summary" }, `${counted(page.items.length, "received item")}${page.next_cursor ? " (and more)" : ""} waiting for inspection, oldest first.`), rows.length ? table(["Item", "Id / customer", "Qty", "Customer remark", "Received", ""], rows, "Received items") : h("p", { class: "empty" }, "Nothing to inspect."));
}

const ACCEPT = ["image/jpeg", "image/png", "image/webp"];

/**
 * Photos of an item (QC) or of a package being packed (a rehearsal: `parcel`), uploaded by presigned POST.
 * @param {any} item
 * @param {(count: number) => void} [onCount] told how many photos the item has, each time they load
 * @param {{ list: string, upload: string, title: string, alt: string, what: string } | null} [parcel]
 */
export function photoPanel(item, onCount = () => {}, parcel = null) {
  const where = parcel || { list: `/items/${item.item_id}/photos?limit=100`, upload: `/staff/items/${item.item_id}/photos`, title: "QC photos", alt: "QC photo", what: item.title || "" };
  const thumbs = h("ul", { class: "thumbs", "aria-label": where.title });
  const status = h("ul", { class: "uploads", "aria-live": "polite" });
  const box = errorBox();
  const input = field(`${where.title} (camera or files)`, { type: "file", accept: ACCEPT.join(","), capture: "environment", multiple: true }, { hint: "JPEG, PNG or WebP, at most 10 MB each; they appear below once processed." });
  const upload = h("button", { type: "button", class: "primary" }, "Upload photos");

  async function showThumbs() {
    /** @type {Schemas["ItemPhotoPage"]} */
    const page = await get(where.list);
    onCount(page.items.length);
    fill(thumbs, ...page.items.map((p, n) => h("li", {}, h("a", { href: p.view_url || p.url, target: "_blank", rel: "noopener" }, h("img", { src: p.thumbnail_url || p.url, alt: `${where.alt} ${n + 1} of ${where.what}`, loading: "lazy", width: 120, height: 120 })))));
  }

  async function one(file) {
    const line = h("li", {}, `${file.name}: uploading…`);
    status.append(line);
    if (!ACCEPT.includes(file.type)) throw new Error(`${file.name} is not a JPEG, PNG or WebP picture.`);
    if (file.size > 10 * 1024 * 1024) throw new Error(`${file.name} is over 10 MB.`);
    /** @type {Schemas["PhotoUpload"]} */
    const ticket = await post(where.upload, { content_type: file.type });
    const body = new FormData();
    Object.entries(ticket.upload.fields).forEach(([k, v]) => body.append(k, v));
    body.append("file", file);
    let response;
    try {
      response = await fetch(ticket.upload.url, { method: "POST", body });
    } catch {
      throw new Error(`${file.name}: the photo storage could not be reached.`);
    }
    if (!response.ok) throw new Error(`${file.name}: the photo storage refused the upload (${response.status}).`);
    line.textContent = `${file.name}: uploaded, processing…`;
    for (let n = 0; n < 60; n += 1) {
      /** @type {Schemas["PhotoUploadStatus"]} */
      const s = await get(`/staff/photos/${ticket.photo_id}`);
      if (s.status === "ready") {
        line.textContent = `${file.name}: added.`;
        line.className = "ok";
        return showThumbs();
      }
      if (s.status === "rejected") {
        line.textContent = `${file.name}: rejected, ${s.reject_reason || "not a usable picture"}.`;
        line.className = "bad";
        return undefined;
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
    line.textContent = `${file.name}: still processing; reload later to see it.`;
    return undefined;
  }

  upload.addEventListener("click", () =>
    act(upload, box, async () => {
      const files = [...input.control.files];
      if (!files.length) throw new Error("Choose or take a photo first.");
      for (const file of files) await one(file);
      input.control.value = "";
    }),
  );
  showThumbs().catch((error) => showError(box, error));
  return h("section", { class: "card", "aria-labelledby": "photos-h" }, h("h2", { id: "photos-h" }, where.title), input, h("div", { class: "actions" }, upload), box, status, thumbs);
}

const CHECKS = [
  ["color", "Colour"],
  ["damage", "Significant damage"],
  ["stains", "Stains"],
  ["size", "Size"],
  ["model", "Model"],
  ["version", "Version number"],
];
const HAZARDS = ["battery", "liquid", "powder", "magnet", "blade", "flammable", "other"];

// colour and size discrepancies are the Colour and Size checks marked issue; performance has no check
const OUTSIDE_SCOPE = [["performance", "Performance discrepancy"]];

/** @param {() => number} photoCount the item's processed photos: electronics pass only with one */
function inspectionForm(item, done, photoCount) {
  const category = radios("Category", "category", [["general", "General"], ["apparel", "Apparel"], ["electronics", "Electronics"]], "general");
  const checks = CHECKS.map(([name, text]) => field(text, { name: `check-${name}` }, { tag: "select", options: [["ok", "OK"], ["issue", "Issue"], ["n/a", "N/A"]] }));
  const labelSize = field("Size on the label or tag", { name: "label_size", maxlength: 32, autocomplete: "off" }, { hint: "Apparel is checked against the customer's remark and its label size." });
  const powered = h("div", { class: "field check" }, h("input", { type: "checkbox", id: "never-powered", name: "never_powered" }), h("label", { for: "never-powered" }, "Not powered on: appearance only (electronics are never switched on)"));
  const hazards = h("fieldset", { class: "hazards" }, h("legend", {}, "Cannot travel because of (hazards)"), HAZARDS.map((hz) => {
    const id = uid("hz");
    return h("span", { class: "choice" }, h("input", { type: "checkbox", id, value: hz, name: "hazard" }), h("label", { for: id }, hz));
  }));
  const weight = field("Weight (g)", { name: "weight_g", inputmode: "numeric", required: true, autocomplete: "off" });
  const dims = ["l", "w", "h"].map((d) => field({ l: "Length (cm)", w: "Width (cm)", h: "Height (cm)" }[d], { name: `dims-${d}`, inputmode: "numeric", required: true, autocomplete: "off" }));
  const result = radios("Result", "result", [["pass", "Pass: store it"], ["issue", "Issue: ask the customer"], ["not_transportable", "Not transportable"]], "pass");
  const notes = field("Notes (optional)", { name: "notes", maxlength: 1000, rows: 2 }, { tag: "textarea" });
  const apparelOnly = h("div", { class: "apparel-only" }, labelSize);
  const photoRule = h("p", { class: "hint", id: "arrival-photo-rule" }, "Electronics pass only with at least one arrival photo: the customer confirms from it before it is stored.");
  const electronicsOnly = h("div", { class: "electronics-only" }, powered, photoRule);
  const outside = h("fieldset", { class: "hazards outside-scope" }, h("legend", {}, "Outside the inspection's scope: recorded, never a reason to fail (so are colour and size issues)"), OUTSIDE_SCOPE.map(([value, text]) => {
    const id = uid("os");
    return h("span", { class: "choice" }, h("input", { type: "checkbox", id, value, name: "discrepancy" }), h("label", { for: id }, text));
  }));
  const sync = () => {
    const c = category.value();
    apparelOnly.hidden = c !== "apparel";
    electronicsOnly.hidden = c !== "electronics";
  };
  category.addEventListener("change", sync);
  sync();
  return form({ class: "inspection", "aria-label": "Inspection" }, [category, h("fieldset", { class: "checks" }, h("legend", {}, "Appearance checks"), h("div", { class: "grid3" }, checks)), outside, apparelOnly, electronicsOnly, h("div", { class: "grid4" }, weight, dims), hazards, result, notes], "Save inspection", async () => {
    const c = category.value();
    const w = intOf(weight.control.value);
    const d = dims.map((x) => intOf(x.control.value));
    if (Number.isNaN(w) || w < 1) throw new Error("Weight is a whole number of grams.");
    if (d.some((x) => Number.isNaN(x) || x < 1)) throw new Error("Length, width and height are whole centimetres.");
    if (c === "apparel" && !labelSize.control.value.trim()) throw new Error("Apparel: enter the size on the label or tag.");
    if (c === "electronics" && !powered.querySelector("input").checked) throw new Error("Electronics: confirm it was not powered on.");
    if (c === "electronics" && result.value() === "pass" && photoCount() < 1) throw new Error("Electronics: upload at least one arrival photo first; the customer confirms from it.");
    const chosen = [...hazards.querySelectorAll("input:checked")].map((x) => x.value);
    const noted = [...outside.querySelectorAll("input:checked")].map((x) => x.value);
    const body = {
      category: c,
      checks: Object.fromEntries(CHECKS.map(([name], n) => [name, checks[n].control.value])),
      weight_g: w,
      dims_cm: { l: d[0], w: d[1], h: d[2] },
      result: result.value(),
    };
    if (c === "apparel") body.label_size = labelSize.control.value.trim();
    if (chosen.length) body.hazards = chosen;
    if (noted.length) body.discrepancies = noted;
    if (notes.control.value.trim()) body.notes = notes.control.value.trim();
    /** @type {Schemas["Item"]} */
    const saved = await post(`/staff/items/${item.item_id}/inspection`, body);
    items.set(saved.item_id || item.item_id, { ...item, ...saved });
    done(saved);
  });
}

/** The marketplace listing beside the QC photos: its pictures and the ordered SKU's properties. */
function listingPanel(item, product) {
  const sku = product?.skus.find((k) => k.sku_id === item.sku_id) || null;
  return h(
    "section",
    { class: "card listing", "aria-labelledby": "listing-h" },
    h("h2", { id: "listing-h" }, "Listing"),
    product
      ? [
          h("ul", { class: "thumbs", "aria-label": "Listing photos" }, product.images.slice(0, 6).map((url, n) => h("li", {}, h("a", { href: url, target: "_blank", rel: "noopener" }, h("img", { src: url, alt: `Listing photo ${n + 1} of ${product.title}`, loading: "lazy", width: 120, height: 120 }))))),
          h("dl", { class: "facts compact" }, h("dt", {}, "Ordered SKU"), h("dd", {}, props(sku?.props || item.props)), h("dt", {}, "Listing"), h("dd", {}, h("a", { href: product.source_url, target: "_blank", rel: "noopener noreferrer" }, `${product.source} page`))),
        ]
      : h("p", { class: "muted" }, `The listing could not be loaded; ordered SKU: ${props(item.props)}.`),
  );
}

export async function inspect(view, itemId) {
  let item;
  try {
    /** @type {Schemas["StaffItem"]} */
    item = await get(`/staff/items/${itemId}`);
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 404)) throw error;
    fill(view, h("h1", {}, "No such item"), h("p", {}, `Item ${itemId} does not exist.`), h("p", {}, h("a", { href: "#/inspection" }, "Back to inspection")));
    return;
  }
  items.set(item.item_id, item);
  /** @type {Schemas["ProductDetail"] | null} */
  const product = item.product_id ? await publicGet(`/products/${item.product_id}`).catch(() => null) : null;
  const outcome = h("div", { "aria-live": "polite" });
  const summary = h(
    "dl",
    { class: "facts" },
    h("dt", {}, "Item"),
    h("dd", {}, h("strong", {}, item.title), ` × ${item.quantity}`),
    h("dt", {}, "SKU"),
    h("dd", {}, `${item.sku_id} · ${props(item.props)}`),
    h("dt", {}, "Customer remark (latest)"),
    h("dd", { class: "remark" }, item.remark || "–", remarkHistory(item)),
    h("dt", {}, "Item id"),
    h("dd", {}, h("code", {}, item.item_id), ` · customer ref ${customerRef(item.user_id)}`),
    h("dt", {}, "Status"),
    h("dd", {}, h("span", { class: `status s-${item.status}` }, item.status)),
  );
  const done = (saved) => {
    const stored = saved.storage?.expires_at ? ` Stored until ${when(saved.storage.expires_at)}.` : saved.feedback ? ` Waiting for the customer until ${when(saved.feedback.due_at)}.` : "";
    fill(outcome, h("p", { class: "banner ok", role: "status" }, `Inspection saved: the item is ${saved.status}.${stored}`), h("p", {}, h("a", { href: "#/inspection" }, "Next item"), " · ", h("a", { href: `#/label/item/${item.item_id}` }, "Print label")));
    f.remove();
    say(`Inspection saved: ${saved.status}`);
  };
  let photos = item.photos.length;
  const f = item.status === "received" ? inspectionForm(item, done, () => photos) : h("p", {}, `Inspected: ${item.status}.`, item.package_id ? [" ", h("a", { href: `#/packages/${item.package_id}` }, "Open its package")] : null, " ", h("a", { href: `#/label/item/${item.item_id}` }, "Print label"));
  fill(view, h("p", { class: "crumbs" }, h("a", { href: "#/inspection" }, "Inspection")), h("h1", {}, `Inspect ${item.title}`), summary, h("div", { class: "two" }, h("section", { class: "card" }, h("h2", {}, "Inspection"), outcome, f), h("div", { class: "stack" }, listingPanel(item, product), photoPanel(item, (n) => (photos = n)))));
}

/** Earlier versions of the remark, newest first (apparel is inspected against the latest). */
function remarkHistory(item) {
  const versions = item.remark_history.slice(0, -1).reverse();
  if (!versions.length) return null;
  return h("details", { class: "remark-history" }, h("summary", {}, `${versions.length} earlier version${versions.length === 1 ? "" : "s"}`), h("ol", {}, versions.map((v) => h("li", {}, h("time", { datetime: v.changed_at }, when(v.changed_at)), ": ", v.remark || "(none)"))));
}

// --- packing and shipping ----------------------------------------------------------------------------

export async function packing(view) {
  const queues = [
    ["paid", "To pack"],
    ["packed", "To ship"],
    ["awaiting_payment", "Packed, waiting for the customer to pay the difference or send it back"],
    ["rehearsed", "Rehearsed, waiting for the customer to confirm or ask for a repack"],
  ];
  /** @type {Schemas["StaffPackagePage"][]} */
  const pages = await Promise.all(queues.map(([s]) => get(`/staff/packages?status=${s}&limit=100`)));
  fill(view, 
    h("h1", {}, "Packing"),
    ...queues.map(([status, title], n) => {
      const list = pages[n].items;
      return h(
        "section",
        { class: "card", "aria-label": title },
        h("h2", {}, title, h("span", { class: "count" }, ` ${list.length}`)),
        list.length
          ? table(
              ["Package", "Items", "Line", "Country", "Paid"],
              list.map((p) => h("tr", {}, h("td", {}, h("a", { href: `#/packages/${p.package_id}` }, `${status === "paid" ? (p.repack_note ? "Repack" : "Pack") : "Open"} ${shortId(p.package_id)}`), packingFlags(p)), h("td", { class: "num" }, p.item_count), h("td", {}, p.line?.name || p.line_id), h("td", {}, p.country), h("td", { class: "num" }, fen(p.paid_fen - p.refunded_fen)))),
            )
          : h("p", { class: "empty" }, "Nothing here."),
      );
    }),
  );
}

function packForm(pkg, reload) {
  const weight = field("Final weight (g)", { inputmode: "numeric", required: true, autocomplete: "off" }, { hint: "From the scale, packed." });
  const dims = ["l", "w", "h"].map((d) => field({ l: "Length (cm)", w: "Width (cm)", h: "Height (cm)" }[d], { inputmode: "numeric", required: true, autocomplete: "off" }));
  const preview = h("div", { class: "preview", role: "status", "aria-live": "polite" }, "Enter the weight and size to see the final charge.");
  function measured() {
    const w = intOf(weight.control.value);
    const d = dims.map((x) => intOf(x.control.value));
    if (Number.isNaN(w) || w < 1 || d.some((x) => Number.isNaN(x) || x < 1)) return null;
    return { w, dims: { l: d[0], w: d[1], h: d[2] } };
  }
  // the server prices it by the rates agreed at submission and decides the settlement; the console says it
  const update = previewer(
    () => {
      const m = measured();
      return m && post(`/staff/packages/${pkg.package_id}/pack-preview`, { weight_g: m.w, dims_cm: m.dims });
    },
    /** @param {Schemas["PackPreview"]} answer */
    (answer) => {
      const p = answer.price;
      preview.className = `preview ${settlementKind(answer.decision)}`;
      fill(
        preview,
        h("p", {}, `Chargeable ${p.chargeable_weight_g} g: shipping ${fen(p.shipping_fen)} + service fee ${fen(p.service_fee_fen)} + services ${fen(p.services_fen)} = `, h("strong", {}, `final ${fen(p.total_fen)}`), `; paid ${fen(answer.held_fen)}.`),
        h("p", {}, answer.rehearsal ? rehearsalText(answer.decision) : settlementText(answer.decision, "package")),
      );
    },
    (error) => {
      preview.className = "preview";
      fill(preview, h("p", {}, `No preview: ${plain(error)}`));
    },
  );
  [weight, ...dims].forEach((x) => x.control.addEventListener("input", update));
  let key = newKey();
  return form({ class: "inline-form", "aria-label": "Pack" }, [h("div", { class: "grid4" }, weight, dims), preview], "Confirm packed", async () => {
    const m = measured();
    if (!m) throw new Error("Weight in whole grams and length, width and height in whole centimetres.");
    /** @type {Schemas["StaffPackage"]} */
    const result = await post(`/staff/packages/${pkg.package_id}/pack`, { weight_g: m.w, dims_cm: m.dims }, { idempotencyKey: key });
    key = newKey();
    say(`Packed: ${result.status}.`);
    await reload();
  });
}

function shipForm(pkg, reload) {
  const carrier = field("Carrier", { required: true, maxlength: 64, value: pkg.line?.carrier || "", autocomplete: "off" });
  const tracking = field("Tracking no", { required: true, maxlength: 64, autocomplete: "off" });
  return form({ class: "inline-form", "aria-label": "Ship" }, [h("div", { class: "row" }, carrier, tracking)], "Ship package", async () => {
    if (!carrier.control.value.trim() || !tracking.control.value.trim()) throw new Error("Enter the carrier and the tracking number.");
    await post(`/staff/packages/${pkg.package_id}/ship`, { carrier: carrier.control.value.trim(), tracking_no: tracking.control.value.trim() });
    say("Shipped: the customer is emailed the tracking number.");
    await reload();
  });
}

export async function packageDetail(view, packageId) {
  const reload = () => packageDetail(view, packageId);
  /** @type {Schemas["StaffPackage"]} */
  const pkg = await get(`/staff/packages/${packageId}`);
  const a = pkg.address;
  const list = pkg.items || [];
  remember(list);
  const parts = [
    h("p", { class: "crumbs" }, h("a", { href: "#/packing" }, "Packing")),
    h("h1", {}, `Package ${shortId(pkg.package_id)}`),
    h("p", {}, h("a", { href: `#/messages/package/${pkg.package_id}` }, "Messages with the customer")),
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, "Status"),
      h("dd", {}, h("span", { class: `status s-${pkg.status}` }, pkg.status)),
      h("dt", {}, "Line"),
      h("dd", {}, `${pkg.line?.name || pkg.line_id} (${pkg.line?.carrier || ""}) to ${pkg.country}`),
      h("dt", {}, "Ship to"),
      h("dd", {}, [a.name, a.line1, a.line2, a.city, a.state, a.postal_code, a.country].filter(Boolean).join(", ")),
      h("dt", {}, "Quoted"),
      h("dd", {}, `${pkg.chargeable_weight_g} g chargeable, total ${fen(pkg.total_fen)}; paid ${fen(pkg.paid_fen)}${pkg.refunded_fen ? `, refunded ${fen(pkg.refunded_fen)}` : ""}${pkg.due_fen ? `, due ${fen(pkg.due_fen)}` : ""}`),
      pkg.packed ? [h("dt", {}, "Packed"), h("dd", {}, `${pkg.packed.weight_g} g, ${pkg.packed.dims_cm.l}×${pkg.packed.dims_cm.w}×${pkg.packed.dims_cm.h} cm`)] : null,
      pkg.tracking ? [h("dt", {}, "Tracking"), h("dd", {}, `${pkg.tracking.carrier} ${pkg.tracking.tracking_no}`)] : null,
    ),
    table(["Item", "Qty", "Weight", "Item id"], list.map((i) => h("tr", {}, h("td", {}, i.title, h("br"), h("small", {}, props(i.props))), h("td", { class: "num" }, i.quantity), h("td", { class: "num" }, i.weight_g ? `${i.weight_g} g` : "–"), h("td", {}, h("code", {}, i.item_id)))), "Items to pick"),
    h("p", {}, h("a", { class: "button", href: `#/label/package/${pkg.package_id}` }, "Print package label")),
  ];
  parts.push(customerAnswer(pkg));
  if (pkg.services.includes("rehearsal") && (pkg.status === "paid" || pkg.status === "rehearsed")) {
    const id = pkg.package_id;
    parts.push(photoPanel({}, undefined, { list: `/packages/${id}/photos`, upload: `/staff/packages/${id}/photos`, title: "Photos of the packed parcel", alt: "Parcel photo", what: `package ${shortId(id)}` }));
  }
  if (pkg.status === "paid") parts.push(serviceChecklist(pkg, reload));
  if (pkg.status === "paid") parts.push(h("section", { class: "card" }, h("h2", {}, "Pack"), packForm(pkg, reload)));
  if (pkg.status === "packed") parts.push(h("section", { class: "card" }, h("h2", {}, "Ship"), shipForm(pkg, reload)));
  fill(view, ...parts);
}

// --- what a package waits for from its customer (issue 24): consent, rehearsal, a repack note ---------

/**
 * Short flags for a queue row: a rehearsal ordered, a repack asked, an answer awaited until a date.
 * @param {Schemas["StaffPackage"]} p
 */
function packingFlags(p) {
  const flags = [];
  if (p.services.includes("rehearsal")) flags.push("rehearsal");
  if (p.repack_note && p.status === "paid") flags.push("repack asked");
  if (p.answer_due_at) flags.push(`answer by ${when(p.answer_due_at)}`);
  return flags.length ? [h("br"), h("small", { class: "flags" }, flags.join(" · "))] : null;
}

/**
 * The pack preview's words for a package with a rehearsal: the server says nothing moves now.
 * @param {Schemas["SettlementDecision"]} d
 */
function rehearsalText(d) {
  const against = d.difference_fen > 0 ? `${fen(d.difference_fen)} more than paid` : d.difference_fen < 0 ? `${fen(-d.difference_fen)} less than paid` : "the same as paid";
  return `Rehearsal: no money moves on submit. The customer sees the photos, the weight and this final charge (${against}) and confirms it, or asks for a repack; photograph the packed parcel.`;
}

/**
 * The card saying what the customer decides, and by when; null when nothing waits on them.
 * @param {Schemas["StaffPackage"]} pkg
 */
function customerAnswer(pkg) {
  const by = pkg.answer_due_at ? ` They answer by ${when(pkg.answer_due_at)}; with no answer the package goes back to storage (unpack it then).` : "";
  const card = (/** @type {string} */ title, /** @type {string} */ kind, /** @type {any[]} */ ...body) => h("section", { class: `card customer-answer ${kind}`, "aria-label": title }, h("h2", {}, title), ...body);
  if (pkg.status === "awaiting_difference") {
    const over = pkg.packed?.settlement === "awaiting_confirmation";
    const why = over ? `over ${fen(pkg.max_charge_without_consent_fen)}, the most charged without asking` : "and the customer's wallet was short";
    return card("Waiting for the customer", "wait", h("p", {}, `The final charge ${fen(pkg.total_fen)} is ${fen(pkg.due_fen)} more than paid, ${why}: the customer pays the difference or sends the package back to storage. Do not ship it.${by}`));
  }
  if (pkg.status === "rehearsed") {
    const d = pkg.packed?.difference_fen || 0;
    return card("Rehearsal: waiting for the customer", "wait", h("p", {}, `Packed for the customer to check: the photos, ${pkg.packed?.weight_g} g and the final charge ${fen(pkg.total_fen)} (${d >= 0 ? `${fen(d)} more` : `${fen(-d)} less`} than paid). They confirm it, ask for a repack, or send it back to storage. Do not ship it.${by}`));
  }
  if (pkg.status === "paid" && pkg.repack_note) {
    return card("The customer asks for a repack", "charge", h("blockquote", { class: "repack-note" }, pkg.repack_note), h("p", {}, `Asked after the rehearsal of ${pkg.packed ? `${pkg.packed.weight_g} g, ${pkg.packed.dims_cm.l}×${pkg.packed.dims_cm.w}×${pkg.packed.dims_cm.h} cm` : "the parcel"}. Pack it again with the change: the customer sees the new rehearsal.`));
  }
  if (pkg.status === "paid" && pkg.services.includes("rehearsal")) {
    return card("Rehearsal ordered", "charge", h("p", {}, "Packing waits for the customer's confirmation: after packing, photograph the packed parcel (the customer sees the photos, the weight and the final charge)."));
  }
  return null;
}

// --- labels (4 x 6 in) ---------------------------------------------------------------------------------

function barcode(text) {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", `Code 128 barcode of ${text}`);
  svg.classList.add("barcode");
  if (window.JsBarcode) {
    window.JsBarcode(svg, text, { format: "CODE128", width: 2, height: 90, margin: 0, displayValue: false });
    svg.setAttribute("viewBox", `0 0 ${parseFloat(svg.getAttribute("width") || "0")} ${parseFloat(svg.getAttribute("height") || "0")}`);
    svg.removeAttribute("width");
    svg.removeAttribute("height");
    svg.setAttribute("preserveAspectRatio", "none");
  }
  return svg;
}

export async function label(view, kind, id) {
  let lines;
  let customer;
  let customs = null;
  if (kind === "package") {
    /** @type {Schemas["StaffPackage"]} */
    const p = await get(`/staff/packages/${id}`);
    customs = customsForm(p, barcode); // printed after the label, on its own 4x6 page
    const a = p.address;
    customer = p.user_id;
    lines = [h("p", { class: "big" }, `${p.country} · ${p.line?.name || p.line_id}`), h("p", {}, `${a.name || ""}, ${a.city || ""}`), h("p", {}, `${p.item_count} item${p.item_count === 1 ? "" : "s"}${p.packed ? ` · ${p.packed.weight_g} g` : ""}`)];
  } else {
    // read by id in any status: a reprint after inspection, or a reload, prints the same label
    /** @type {Schemas["StaffItem"]} */
    const i = await get(`/staff/items/${id}`);
    items.set(i.item_id, i);
    customer = i.user_id;
    lines = [h("p", { class: "big" }, i.title), h("p", {}, `${props(i.props)} × ${i.quantity}`)];
  }
  const shelf = h("p", { class: "shelf" }, "Shelf: ", h("span", { class: "blank" }, ""));
  fill(view, 
    h("div", { class: "no-print" }, h("h1", {}, `Label for ${kind} ${shortId(id)}`), h("p", {}, "Sized for a 4 × 6 in label printer. "), h("button", { type: "button", class: "primary", onclick: () => window.print() }, "Print label")),
    h("article", { class: "label", "aria-label": "Label preview" }, h("p", { class: "kind" }, kind === "package" ? "PACKAGE" : "ITEM"), barcode(id), h("p", { class: "code" }, id), h("p", { class: "ref" }, `Customer ref ${customerRef(customer)}`), ...lines, shelf),
    customs,
  );
}

// --- destruction --------------------------------------------------------------------------------------

export async function destruction(view) {
  /** @type {Schemas["DestructionQueuePage"]} */
  const page = await get("/staff/destruction-queue?limit=100");
  const rows = page.items.map((row) => {
    const id = row.kind === "item" ? row.item_id : row.parcel_id;
    const box = errorBox();
    const ask = h("button", { type: "button", class: "danger" }, "Destroy…");
    const confirm = h("button", { type: "button", class: "danger", hidden: true }, "Confirm: physically destroyed");
    const cancel = h("button", { type: "button", hidden: true }, "Cancel");
    ask.addEventListener("click", () => {
      ask.hidden = true;
      confirm.hidden = false;
      cancel.hidden = false;
      confirm.focus();
    });
    cancel.addEventListener("click", () => {
      ask.hidden = false;
      confirm.hidden = true;
      cancel.hidden = true;
      ask.focus();
    });
    confirm.addEventListener("click", () =>
      act(confirm, box, async () => {
        await post(`/staff/${row.kind === "item" ? "items" : "parcels"}/${id}/destroy`);
        say(`${row.kind} destroyed.`);
        await destruction(view);
      }),
    );
    return h(
      "tr",
      { dataset: { id } },
      h("td", {}, row.kind),
      h("td", {}, row.kind === "item" ? [row.title, h("br"), h("small", {}, props(row.props))] : `parcel ${row.tracking_no}`),
      h("td", {}, h("code", {}, shortId(id))),
      h("td", {}, when(row.abandoned_at)),
      h("td", {}, h("div", { class: "actions" }, ask, confirm, cancel), box),
    );
  });
  fill(view, h("h1", {}, "Destruction queue"), h("p", { class: "summary" }, `${counted(page.items.length, "abandoned item or expired parcel", "abandoned items and expired parcels")} awaiting physical destruction.`), rows.length ? table(["Kind", "What", "Id", "Abandoned", "Action"], rows, "Awaiting destruction") : h("p", { class: "empty" }, "Nothing to destroy."));
}

// --- after-sales --------------------------------------------------------------------------------------

export async function afterSales(view) {
  /** @type {Schemas["StaffAfterSalesCasePage"]} */
  const page = await get("/staff/after-sales?limit=100");
  const cards = page.items.map((c) => {
    const resolution = field("Resolution", { name: "resolution" }, { tag: "select", options: [["refund", "Refund to wallet"], ["return", "Return goods to the merchant"], ["reject", "Reject the request"]] });
    const amount = field("Refund amount (¥)", { name: "refund", inputmode: "decimal", autocomplete: "off" });
    const note = field("Note to the customer", { name: "note", maxlength: 500, rows: 2 }, { tag: "textarea" });
    const sync = () => (amount.hidden = resolution.control.value !== "refund");
    resolution.control.addEventListener("change", sync);
    sync();
    let key = newKey();
    const f = form({ class: "inline-form", "aria-label": `Resolve case ${c.case_id}` }, [h("div", { class: "row" }, resolution, amount), note], "Resolve", async () => {
      const body = { resolution: resolution.control.value };
      if (body.resolution === "refund") {
        const value = yuanToFen(amount.control.value);
        if (Number.isNaN(value) || value <= 0) throw new Error("Enter the refund in yuan, e.g. 25.00.");
        body.refund_fen = value;
      }
      if (note.control.value.trim()) body.note = note.control.value.trim();
      await post(`/staff/after-sales/${c.case_id}/resolve`, body, { idempotencyKey: key });
      key = newKey();
      say("Case resolved.");
      await afterSales(view);
    });
    // a case about delivered goods: what is wrong and the customer's evidence photos (issue 22)
    const delivered = c.delivered_at ? h("p", {}, `Delivered ${when(c.delivered_at)} · issue: ${c.issue || "–"}`) : null;
    const evidence = c.photos.length ? h("ul", { class: "thumbs", "aria-label": `Evidence of case ${c.case_id}` }, c.photos.map((p, n) => h("li", {}, h("a", { href: p.view_url || p.url, target: "_blank", rel: "noopener" }, h("img", { src: p.thumbnail_url, alt: `Evidence photo ${n + 1}`, loading: "lazy", width: 120, height: 120 }))))) : null;
    return h("section", { class: "card", dataset: { caseId: c.case_id } }, h("h2", {}, `${c.type} · item ${shortId(c.item_id)}`), h("p", {}, `“${c.reason}” · opened ${when(c.created_at)}`), delivered, evidence, f);
  });
  fill(view, h("h1", {}, "After-sales"), h("p", { class: "summary" }, `${counted(page.items.length, "open case")}, oldest first.`), ...(cards.length ? cards : [h("p", { class: "empty" }, "No open case.")]));
}
