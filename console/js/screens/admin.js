// @ts-check
// Admin: queue sizes and overdue counts across the whole operation.
import { get } from "../api.js";
import { countdown } from "../worktime.js";
import { fill, h } from "../ui.js";

const QUEUES = [
  ["Review", "Orders waiting for review", "/staff/orders?status=pending_review", "#/review"],
  ["Purchasing", "Items to buy", "/staff/items?status=purchasing", "#/purchasing"],
  ["Purchasing", "Waiting for a price difference", "/staff/items?status=awaiting_payment", "#/purchasing"],
  ["Purchasing", "Bought, shipment not recorded", "/staff/items?status=purchased", "#/purchasing"],
  ["Warehouse", "On the way to the warehouse", "/staff/items?status=shipped_domestic", "#/inbound"],
  ["Warehouse", "Received, to inspect", "/staff/items?status=received", "#/inspection"],
  ["Warehouse", "Exceptional parcels", "/staff/parcels?status=exceptional", "#/parcels"],
  ["Warehouse", "Packages to pack", "/staff/packages?status=paid", "#/packing"],
  ["Warehouse", "Packages to ship", "/staff/packages?status=packed", "#/packing"],
  ["Warehouse", "Awaiting destruction", "/staff/destruction-queue", "#/destruction"],
  ["After-sales", "Open cases", "/staff/after-sales", "#/after-sales"],
];

export async function dashboard(view) {
  const pages = await Promise.all(QUEUES.map(([, , path]) => get(`${path}${path.includes("?") ? "&" : "?"}limit=100`).catch((error) => ({ error }))));
  const cards = QUEUES.map(([area, title, , href], n) => {
    const page = pages[n];
    if (page.error) return h("li", { class: "tile bad" }, h("span", { class: "area" }, area), h("span", { class: "n" }, "?"), h("a", { href }, title), h("small", {}, page.error.message));
    const size = `${page.items.length}${page.next_cursor ? "+" : ""}`;
    let overdue = null;
    if (n === 0) {
      const late = page.items.filter((o) => o.overdue || countdown(o.review_due_at).overdue).length;
      overdue = h("span", { class: late ? "overdue-count bad" : "overdue-count" }, `${late} overdue`);
    }
    return h("li", { class: `tile${overdue && overdue.classList.contains("bad") ? " alert" : ""}` }, h("span", { class: "area" }, area), h("span", { class: "n", "aria-label": `${size} ${title}` }, size), h("a", { href }, title), overdue);
  });
  fill(view, h("h1", {}, "Dashboard"), h("p", { class: "summary" }, "Queue sizes now (a queue over 100 shows 100+)."), h("ul", { class: "tiles" }, cards));
}
