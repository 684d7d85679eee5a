// @ts-check
// Reviewer screens: the review queue (deadline countdown), an order's detail with approve / reject,
// purchasing at the actual price (the server's settlement preview shown before submitting) and the domestic shipment.
import { get, post, publicGet } from "../api.js";
import { countdown } from "../worktime.js";
import { settlementKind, settlementText, previewer } from "../settlement.js";
import { act, errorBox, fen, field, form, fill, h, intOf, newKey, plain, props, say, shortId, table, when, yuanToFen } from "../ui.js";

/** @typedef {import("procure-api").components["schemas"]} Schemas (generated from docs/openapi.json) */

function due(o) {
  const c = countdown(o.review_due_at);
  return h("span", { class: "countdown", dataset: { due: o.review_due_at || "" } }, c.text);
}

export const QUEUE_PAGE = 100;
const orderCount = (n) => `${n} order${n === 1 ? "" : "s"}`;

export async function queue(view) {
  return queuePage(view, null, 1);
}

/** One page of the review queue; the API pages it (oldest deadline first), the console follows next_cursor. */
async function queuePage(view, cursor, pageNo) {
  /** @type {Schemas["ReviewQueuePage"]} */
  const page = await get(`/staff/orders?status=pending_review&limit=${QUEUE_PAGE}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
  const orders = [...page.items].sort((a, b) => String(a.review_due_at).localeCompare(String(b.review_due_at)));
  const overdue = orders.filter((o) => o.overdue || countdown(o.review_due_at).overdue).length;
  const rows = orders.map((o) =>
    h(
      "tr",
      { class: o.overdue || countdown(o.review_due_at).overdue ? "overdue" : null, dataset: { overdueRow: "1", orderId: o.order_id } },
      h("td", {}, h("a", { href: `#/orders/${o.order_id}` }, shortId(o.order_id))),
      h("td", {}, due(o), h("br"), h("small", {}, `due ${when(o.review_due_at)} Beijing`)),
      h("td", { class: "num" }, o.item_count),
      h("td", { class: "num" }, fen(o.charges.total_fen)),
      h("td", {}, o.payment_channel),
      h("td", {}, when(o.created_at)),
    ),
  );
  const paged = pageNo > 1 || page.next_cursor;
  const pager = paged
    ? h(
        "nav",
        { class: "pager", "aria-label": "Review queue pages" },
        pageNo > 1 ? h("button", { type: "button", onclick: () => queuePage(view, null, 1) }, "First page") : null,
        h("span", {}, `Page ${pageNo}`),
        page.next_cursor ? h("button", { type: "button", class: "primary", onclick: () => queuePage(view, page.next_cursor, pageNo + 1) }, "Next page") : null,
      )
    : null;
  fill(view, 
    h("h1", {}, "Review queue"),
    h("p", { class: "summary" }, `${orderCount(orders.length)} waiting for review${paged ? ` on page ${pageNo}${page.next_cursor ? ", more on the next" : ""}` : ""}, `, h("strong", { class: overdue ? "bad" : null }, `${overdue} overdue`), ". Oldest deadline first; deadlines count China working hours (09:00-18:00 Beijing, Monday-Friday)."),
    orders.length
      ? table(["Order", "Deadline", "Items", "Total", "Paid by", "Created"], rows, "Orders waiting for review")
      : h("p", { class: "empty" }, "No order is waiting for review."),
    pager,
  );
}

function sourceLink(product) {
  return product?.source_url ? h("a", { href: product.source_url, target: "_blank", rel: "noopener noreferrer" }, `${product.source} page`) : "–";
}

function purchaseForm(item, reload) {
  const no = field("Merchant order no", { name: "merchant_order_no", required: true, maxlength: 64, autocomplete: "off" });
  const price = field("Actual unit price (¥)", { name: "actual_unit_price", inputmode: "decimal", required: true, value: (item.unit_price_fen / 100).toFixed(2) }, { hint: `Customer paid ${fen(item.unit_price_fen)} × ${item.quantity}` });
  const bought = field("Quantity bought", { name: "quantity_purchased", inputmode: "numeric", value: String(item.quantity) }, { hint: `Ordered ${item.quantity}; fewer refunds the rest` });
  const freight = field("Actual shop shipping (¥)", { name: "actual_domestic_shipping", inputmode: "decimal", placeholder: "as paid" }, { hint: "Only when the shop charged other freight" });
  const preview = h("p", { class: "preview", role: "status", "aria-live": "polite" });
  /** The purchase terms as typed, or an error message. */
  const terms = () => {
    const value = yuanToFen(price.control.value);
    if (Number.isNaN(value)) return "Enter the price in yuan, e.g. 12.50.";
    /** @type {{ actual_unit_price_fen: number, quantity_purchased?: number, actual_domestic_shipping_fen?: number }} */
    const body = { actual_unit_price_fen: value };
    const quantity = intOf(bought.control.value);
    if (Number.isNaN(quantity) || quantity < 1 || quantity > item.quantity) return `Enter the quantity bought, 1 to ${item.quantity}.`;
    if (quantity < item.quantity) body.quantity_purchased = quantity;
    if (freight.control.value.trim()) {
      const shipping = yuanToFen(freight.control.value);
      if (Number.isNaN(shipping)) return "Enter the shop's shipping in yuan, e.g. 8.00, or leave it empty.";
      body.actual_domestic_shipping_fen = shipping;
    }
    return body;
  };
  // the server decides (its consent threshold and the customer's wallet); the console only says it
  const update = previewer(
    () => {
      const body = terms();
      if (typeof body === "string") {
        preview.textContent = body;
        preview.className = "preview";
        return null;
      }
      return post(`/staff/items/${item.item_id}/purchase-preview`, body);
    },
    /** @param {Schemas["PurchasePreview"]} answer */
    (answer) => {
      const short = answer.short_refund_fen ? ` ${fen(answer.short_refund_fen)} for the units not sold is refunded.` : "";
      const shipping = answer.shipping_difference_fen ? ` (shop shipping ${answer.shipping_difference_fen > 0 ? "+" : ""}${fen(answer.shipping_difference_fen)} included)` : "";
      preview.textContent = `${settlementText(answer.decision, "item")}${shipping}${short}`;
      preview.className = `preview ${settlementKind(answer.decision)}`;
    },
    (error) => {
      preview.textContent = `No preview: ${plain(error)}`;
      preview.className = "preview";
    },
  );
  for (const input of [price, bought, freight]) input.control.addEventListener("input", update);
  update();
  let key = newKey();
  return form({ class: "inline-form", "aria-label": `Purchase ${item.title}` }, [h("div", { class: "row" }, no, price, bought, freight), preview], "Record purchase", async () => {
    const body = terms();
    if (!no.control.value.trim()) throw new Error("Enter the merchant's order number.");
    if (typeof body === "string") throw new Error(body);
    /** @type {Schemas["Item"]} */
    const result = await post(`/staff/items/${item.item_id}/purchase`, { merchant_order_no: no.control.value.trim(), ...body }, { idempotencyKey: key });
    key = newKey();
    say(`Purchase recorded: item is ${result.status}.`);
    await reload();
  });
}

/** @type {Array<[string, string]>} */
const REASONS = [
  ["out_of_stock", "Out of stock"],
  ["delisted", "Delisted by the shop"],
  ["merchant_refused", "Merchant refused the order"],
  ["other", "Other"],
];

/** Staff cancel an item the shop cannot supply; the server refunds it (and its shop's shipping with the shop's last item). */
function unavailableForm(item, reload) {
  const reason = field("Reason", { name: "reason", required: true }, { tag: "select", options: REASONS });
  const note = field("Note to the customer", { name: "note", maxlength: 500, rows: 2 }, { tag: "textarea", hint: `Everything paid for it comes back to the wallet (${fen(item.paid_fen - item.refunded_fen)} of goods), with the shop's shipping when nothing else comes from that shop.` });
  let key = newKey();
  const el = form({ class: "inline-form unavailable", "aria-label": `Mark ${item.title} unavailable` }, [h("div", { class: "row" }, reason, note)], "Mark unavailable and refund", async () => {
    const text = note.control.value.trim();
    /** @type {Schemas["Item"]} */
    const result = await post(`/staff/items/${item.item_id}/unavailable`, { reason: reason.control.value, ...(text ? { note: text } : {}) }, { idempotencyKey: key });
    key = newKey();
    const back = result.unavailable ? result.unavailable.refunded_fen + result.unavailable.shipping_refunded_fen : 0;
    say(`Item marked unavailable: ${fen(back)} refunded to the customer.`);
    await reload();
  });
  el.submitButton.className = "danger";
  return el;
}

/** Staff offer another SKU of the product, in stock for the whole quantity; the customer accepts or declines. */
function replacementForm(item, product, reload) {
  const skus = (product?.skus || []).filter((s) => s.sku_id !== item.sku_id && s.stock >= item.quantity);
  if (!skus.length) return h("p", { class: "hint" }, "No other SKU of this product is in stock for a replacement.");
  /** @type {Array<[string, string]>} */
  const options = skus.map((s) => [s.sku_id, `${props(s.props)} · ${fen(s.price_fen)} · ${s.stock} in stock`]);
  const sku = field("Replacement SKU", { name: "sku_id", required: true }, { tag: "select", options });
  const note = field("Note to the customer", { name: "note", maxlength: 500, rows: 2 }, { tag: "textarea", hint: "Accepting charges or refunds the price difference; declining refunds the item." });
  return form({ class: "inline-form replacement", "aria-label": `Offer a replacement for ${item.title}` }, [h("div", { class: "row" }, sku, note)], "Offer replacement", async () => {
    const text = note.control.value.trim();
    await post(`/staff/items/${item.item_id}/replacement`, { sku_id: sku.control.value, ...(text ? { note: text } : {}) });
    say("Replacement offered: the customer is emailed.");
    await reload();
  });
}

function shipmentForm(item, reload) {
  const carrier = field("Carrier", { name: "carrier", required: true, maxlength: 64, list: "carriers", autocomplete: "off" });
  const tracking = field("Tracking no", { name: "tracking_no", required: true, maxlength: 64, autocomplete: "off" });
  return form({ class: "inline-form", "aria-label": `Domestic shipment of ${item.title}` }, [h("div", { class: "row" }, carrier, tracking)], "Record shipment", async () => {
    if (!carrier.control.value.trim() || !tracking.control.value.trim()) throw new Error("Enter the carrier and the tracking number.");
    await post(`/staff/items/${item.item_id}/domestic-shipment`, { carrier: carrier.control.value.trim(), tracking_no: tracking.control.value.trim() });
    say("Domestic shipment recorded.");
    await reload();
  });
}

/**
 * @param {Schemas["Item"]} item
 * @param {Schemas["ProductDetail"] | null} product
 */
function itemActions(item, reload, product) {
  const offered = item.replacement?.state === "offered";
  if (item.status === "purchasing" && offered)
    return [h("p", {}, `Waiting for the customer to accept or decline ${props(item.replacement?.props || {})} at ${fen(item.replacement?.unit_price_fen)}.`), unavailableForm(item, reload)];
  if (item.status === "purchasing" && item.price_difference_due_fen)
    return [h("p", {}, `Waiting for the customer to pay ${fen(item.price_difference_due_fen)}.`), unavailableForm(item, reload)];
  if (item.status === "purchasing")
    return [purchaseForm(item, reload), h("details", { class: "exception" }, h("summary", {}, "The shop cannot supply it"), replacementForm(item, product, reload), unavailableForm(item, reload))];
  if (item.status === "purchased") return [shipmentForm(item, reload), h("details", { class: "exception" }, h("summary", {}, "The shop cannot supply it"), unavailableForm(item, reload))];
  if (item.unavailable) return h("p", { class: "bad" }, `Unavailable (${item.unavailable.reason.replace(/_/g, " ")}): ${fen(item.unavailable.refunded_fen + item.unavailable.shipping_refunded_fen)} refunded.`);
  return null;
}

/** What rejecting returns, as the server computes it: an external channel's bank fee is kept. */
function rejectHint(o) {
  const kept = o.paid_fen - o.refund_if_rejected_fen;
  const back = `${fen(o.refund_if_rejected_fen)} returns to their wallet`;
  if (kept > 0 && o.charges.bank_fee_fen > 0) return `Sent to the customer; ${back}. The ${o.payment_channel} bank fee of ${fen(o.charges.bank_fee_fen)} is not refunded.`;
  return `Sent to the customer; ${back}${kept > 0 ? ` (${fen(kept)} was already refunded)` : ", the full amount paid"}.`;
}

export async function order(view, orderId) {
  const reload = () => order(view, orderId);
  /** @type {Schemas["StaffOrderDetail"]} */
  const o = await get(`/staff/orders/${orderId}`);
  /** @type {Record<string, Schemas["ProductDetail"] | null>} */
  const products = {};
  await Promise.all(
    [...new Set(o.items.map((i) => i.product_id).filter((id) => id !== null))].map(async (id) => {
      products[id] = await publicGet(`/products/${id}`).catch(() => null);
    }),
  );
  const c = o.charges;
  const rows = o.items.map((i) =>
    h(
      "tr",
      { dataset: { itemId: i.item_id } },
      h("td", {}, h("strong", {}, i.title), h("br"), h("small", {}, `SKU ${i.sku_id} · ${props(i.props)}`)),
      h("td", { class: "num" }, i.quantity),
      h("td", { class: "num" }, fen(i.unit_price_fen)),
      h("td", {}, i.remark || "–", i.remark_history.length > 1 ? h("small", { class: "muted", title: i.remark_history.map((v) => v.remark || "(none)").join(" → ") }, ` (changed ${i.remark_history.length - 1}×)`) : null),
      h("td", {}, sourceLink(i.product_id === null ? null : products[i.product_id])),
      h("td", {}, h("span", { class: `status s-${i.status}` }, i.status), i.purchase ? h("small", { class: "block" }, `order ${i.purchase.merchant_order_no}, ${fen(i.purchase.actual_unit_price_fen)}/unit`) : null, i.domestic_shipment ? h("small", { class: "block" }, `${i.domestic_shipment.carrier} ${i.domestic_shipment.tracking_no}`) : null),
    ),
  );
  const parts = [
    h("p", { class: "crumbs" }, h("a", { href: "#/review" }, "Review queue"), " / ", h("a", { href: "#/purchasing" }, "Purchasing")),
    h("h1", {}, `Order ${shortId(o.order_id)}`),
    h("p", {}, h("a", { href: `#/messages/order/${o.order_id}` }, "Messages with the customer")),
    h(
      "dl",
      { class: "facts", dataset: o.status === "pending_review" ? { overdueRow: "1" } : {} },
      h("dt", {}, "Status"),
      h("dd", {}, h("span", { class: `status s-${o.status}` }, o.status)),
      h("dt", {}, "Customer"),
      h("dd", {}, o.customer_email || "(account deleted)", " ", h("small", {}, shortId(o.user_id))),
      o.review_due_at ? [h("dt", {}, "Review deadline"), h("dd", { class: o.overdue ? "bad" : null }, when(o.review_due_at), " Beijing · ", o.status === "pending_review" ? due(o) : "reviewed")] : null,
      h("dt", {}, "Charges"),
      h("dd", {}, `products ${fen(c.product_fen)} + domestic shipping ${fen(c.domestic_shipping_fen)} + bank fee ${fen(c.bank_fee_fen)} = `, h("strong", {}, fen(c.total_fen)), ` (paid ${fen(o.paid_fen)} by ${o.payment_channel})`),
    ),
    table(["Item", "Qty", "Unit price", "Customer remark", "Source", "Status"], rows, "Items"),
  ];
  if (o.status === "pending_review") {
    const approveBox = errorBox();
    const approve = h("button", { type: "button", class: "primary" }, "Approve order");
    approve.addEventListener("click", () =>
      act(approve, approveBox, async () => {
        await post(`/staff/orders/${orderId}/approve`);
        say("Order approved: its items are now purchasing.");
        await reload();
      }),
    );
    const reason = field("Reason for rejecting", { name: "reason", required: true, maxlength: 500, rows: 2 }, { tag: "textarea", hint: rejectHint(o) });
    let key = newKey();
    const reject = form({ class: "inline-form reject", "aria-label": "Reject order" }, [reason], "Reject and refund", async () => {
      if (!reason.control.value.trim()) throw new Error("Say why the order is rejected.");
      await post(`/staff/orders/${orderId}/reject`, { reason: reason.control.value.trim() }, { idempotencyKey: key });
      key = newKey();
      say("Order rejected and refunded.");
      await reload();
    });
    reject.submitButton.className = "danger";
    parts.push(h("section", { class: "card decision", "aria-label": "Decision" }, h("h2", {}, "Decision"), h("div", { class: "actions" }, approve), approveBox, reject));
  }
  const work = o.items.map((i) => [i, itemActions(i, reload, i.product_id === null ? null : products[i.product_id])]).filter(([, el]) => el);
  if (work.length) {
    parts.push(
      h("section", { class: "card" }, h("h2", {}, "Purchasing and shipment"), work.map(([i, el]) => h("div", { class: "work", dataset: { itemId: i.item_id } }, h("h3", {}, `${i.title} × ${i.quantity}`, h("small", {}, ` ${props(i.props)}`)), el))),
    );
  }
  parts.push(h("datalist", { id: "carriers" }, ["SF Express", "YTO Express", "ZTO Express", "STO Express", "Yunda", "JD Logistics", "EMS"].map((v) => h("option", { value: v }))));
  fill(view, ...parts);
}

export async function purchasing(view) {
  const queues = [
    ["purchasing", "To buy"],
    ["awaiting_payment", "Waiting for the customer to pay a difference"],
    ["awaiting_replacement", "Waiting for the customer to answer a replacement offer"],
    ["purchased", "Bought: record the merchant's shipment"],
    ["shipped_domestic", "On the way to the warehouse"],
  ];
  /** @type {Schemas["StaffItemPage"][]} */
  const pages = await Promise.all(queues.map(([s]) => get(`/staff/items?status=${s}&limit=100`)));
  const sections = queues.map(([, title], n) => {
    const items = pages[n].items;
    return h(
      "section",
      { class: "card", "aria-label": title },
      h("h2", {}, title, h("span", { class: "count" }, ` ${items.length}${pages[n].next_cursor ? "+" : ""}`)),
      items.length
        ? table(
            ["Item", "Qty", "Paid/unit", "Remark", "Order"],
            items.map((i) => h("tr", {}, h("td", {}, i.title, h("br"), h("small", {}, props(i.props))), h("td", { class: "num" }, i.quantity), h("td", { class: "num" }, fen(i.unit_price_fen)), h("td", {}, i.remark || "–"), h("td", {}, h("a", { href: `#/orders/${i.order_id}` }, `Open order ${shortId(i.order_id)}`)))),
          )
        : h("p", { class: "empty" }, "Nothing here."),
    );
  });
  fill(view, h("h1", {}, "Purchasing"), ...sections);
}
