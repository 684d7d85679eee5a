// @ts-check
// The packer's checklist (issue 24): every paid service of a package ticked off, with an optional photo,
// or refunded as not doable, before the package may be packed (the server refuses `pack` until then).
import { post } from "../api.js";
import { act, errorBox, fen, field, h, newKey, say } from "../ui.js";

/** @typedef {import("procure-api").components["schemas"]} Schemas (generated from docs/openapi.json) */

const ACCEPT = ["image/jpeg", "image/png", "image/webp"];
const WORDS = { to_do: "To do", performed: "Done", refunded: "Refunded" };

/** A photo of the work, uploaded like any warehouse photo (for the package's first item); its id. */
async function uploadPhoto(pkg, file) {
  if (!ACCEPT.includes(file.type)) throw new Error(`${file.name} is not a JPEG, PNG or WebP picture.`);
  if (file.size > 10 * 1024 * 1024) throw new Error(`${file.name} is over 10 MB.`);
  /** @type {Schemas["PhotoUpload"]} */
  const ticket = await post(`/staff/items/${pkg.item_ids[0]}/photos`, { content_type: file.type });
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
  return ticket.photo_id;
}

/** One paid service: its state, and while to do, "Done" (note, photo) or "Could not do" (reason, refund). */
function serviceRow(pkg, work, reload) {
  const status = h("span", { class: `status s-${work.status}` }, WORDS[work.status] || work.status);
  const head = h("p", { class: "service-head" }, h("strong", {}, work.name), ` · ${fen(work.price_fen)} · `, status);
  if (work.status !== "to_do") {
    const detail = work.status === "refunded" ? `Refunded ${fen(work.refund_fen)}: ${work.note || ""}` : `${work.note || "Done"}${work.photo_id ? " · photo attached" : ""}`;
    return h("li", { class: `service ${work.status}` }, head, h("p", { class: "service-detail" }, detail));
  }
  const box = errorBox();
  const note = field(`Note (${work.service})`, { maxlength: 500, autocomplete: "off" });
  const photo = field(`Photo of the work (${work.service})`, { type: "file", accept: ACCEPT.join(","), capture: "environment" }, { hint: "Optional: JPEG, PNG or WebP." });
  const reason = field(`Why it cannot be done (${work.service})`, { maxlength: 500, autocomplete: "off" });
  const done = h("button", { type: "button", class: "primary" }, `Done: ${work.service}`);
  const refund = h("button", { type: "button", class: "danger" }, `Could not do: refund ${fen(work.price_fen)}`);
  let key = newKey();
  done.addEventListener("click", () =>
    act(done, box, async () => {
      const file = photo.control.files?.[0];
      const body = {};
      if (file) body.photo_id = await uploadPhoto(pkg, file);
      if (note.control.value.trim()) body.note = note.control.value.trim();
      await post(`/staff/packages/${pkg.package_id}/services/${work.service}/perform`, body);
      say(`${work.name}: done.`);
      await reload();
    }),
  );
  refund.addEventListener("click", () =>
    act(refund, box, async () => {
      const why = reason.control.value.trim();
      if (why.length < 3) throw new Error("Say why it cannot be done (the customer sees it).");
      await post(`/staff/packages/${pkg.package_id}/services/${work.service}/refund`, { reason: why }, { idempotencyKey: key });
      key = newKey();
      say(`${work.name}: refunded.`);
      await reload();
    }),
  );
  return h("li", { class: "service to_do" }, head, h("div", { class: "row" }, note, photo), h("div", { class: "actions" }, done), h("details", {}, h("summary", {}, "Cannot be done?"), reason, h("div", { class: "actions" }, refund)), box);
}

/** The paid services as a checklist; null when the package has none the warehouse performs. */
export function serviceChecklist(pkg, reload) {
  const list = pkg.service_work || [];
  if (!list.length) return null;
  const open = list.filter((w) => w.status === "to_do").length;
  const summary = open ? `${open} of ${list.length} still to do: packing waits for them.` : "All done: the package can be packed.";
  return h(
    "section",
    { class: "card checklist", "aria-labelledby": "services-h" },
    h("h2", { id: "services-h" }, "Paid services"),
    h("p", { class: open ? "banner warn" : "banner ok", role: "status" }, summary),
    h("ul", { class: "services", "aria-label": "Paid services checklist" }, list.map((w) => serviceRow(pkg, w, reload))),
  );
}
