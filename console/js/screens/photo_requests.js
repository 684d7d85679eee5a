// @ts-check
// The warehouse's photo-request queue (issue 23): paid extra photos customers asked for. Open one,
// upload the photos (straight to S3, as at inspection), then mark it done: the customer is emailed.
import { get, post } from "../api.js";
import { act, errorBox, fill, h, say, shortId, table, when } from "../ui.js";
import { photoPanel } from "./warehouse.js";

/** @typedef {import("procure-api").components["schemas"]} Schemas (generated from docs/openapi.json) */

/** @returns {Promise<Schemas["StaffPhotoRequest"][]>} */
async function openRequests() {
  /** @type {Schemas["StaffPhotoRequestPage"]} */
  const page = await get("/staff/photo-requests?limit=100");
  return page.items;
}

/** Where the item is: on a shelf, or in a package that is not packed yet (pack it after the photos). */
const where = (row) => (row.package_id ? `in package ${shortId(row.package_id)}, not packed yet` : row.item_status || "–");

/** @param {HTMLElement} view */
export async function queue(view) {
  const rows = (await openRequests()).map((row) =>
    h(
      "tr",
      { dataset: { id: row.request_id } },
      h("td", {}, h("a", { href: `#/photo-requests/${row.request_id}` }, row.title || row.item_id)),
      h("td", {}, row.note || "–"),
      h("td", {}, where(row)),
      h("td", {}, String(row.new_photo_count)),
      h("td", {}, when(row.created_at)),
    ),
  );
  fill(
    view,
    h("h1", {}, "Photo requests"),
    h("p", { class: "summary" }, `${rows.length} paid request${rows.length === 1 ? "" : "s"} for extra photos, oldest first. Take them before the item is packed.`),
    rows.length ? table(["Item", "Customer's note", "Where", "New photos", "Paid"], rows, "Open photo requests") : h("p", { class: "empty" }, "No photos owed."),
  );
}

/**
 * @param {HTMLElement} view
 * @param {string} requestId
 */
export async function detail(view, requestId) {
  const row = (await openRequests()).find((r) => r.request_id === requestId);
  if (!row) {
    fill(view, h("p", { class: "crumbs" }, h("a", { href: "#/photo-requests" }, "Photo requests")), h("h1", {}, "Photo request"), h("p", { class: "empty" }, "This request is no longer open (done or refunded)."));
    return;
  }
  /** @type {Schemas["StaffItem"]} */
  const item = await get(`/staff/items/${row.item_id}`);
  const box = errorBox();
  const done = h("button", { type: "button", class: "primary" }, "Mark done");
  done.addEventListener("click", () =>
    act(done, box, async () => {
      await post(`/staff/photo-requests/${requestId}/complete`);
      say("Photo request done: the customer was emailed the new photos.");
      location.hash = "#/photo-requests";
    }),
  );
  const asked = h(
    "section",
    { class: "card", "aria-labelledby": "request-h" },
    h("h2", { id: "request-h" }, "What the customer asked for"),
    h("p", { class: "note" }, row.note || "No note: a few more photos of the item."),
    h("p", {}, `Item ${shortId(row.item_id)}, ${where(row)}; paid ${when(row.created_at)}.`),
    h("p", { class: "muted" }, "Upload at least one new photo, then mark the request done."),
    h("div", { class: "actions" }, done),
    box,
  );
  fill(view, h("p", { class: "crumbs" }, h("a", { href: "#/photo-requests" }, "Photo requests")), h("h1", {}, `Photos of ${item.title}`), h("div", { class: "two" }, asked, photoPanel(item)));
}
