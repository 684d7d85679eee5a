// @ts-check
// Insurance claims (issue 22): open claims on shipped packages, oldest first, with the customer's evidence;
// warehouse and reviewers approve (compensation to the wallet, capped by the server) or reject.
import { get, post } from "../api.js";
import { fen, field, fill, form, h, newKey, say, shortId, when, yuanToFen } from "../ui.js";

/** @typedef {import("procure-api").components["schemas"]} Schemas (generated from docs/openapi.json) */

const KINDS = { lost: "Lost", damaged: "Damaged", seized: "Seized by customs" };

/** @param {Schemas["StaffClaim"]} c */
function evidence(c) {
  if (!c.photos.length) return h("p", { class: "muted" }, "No evidence photos yet.");
  return h(
    "ul",
    { class: "thumbs", "aria-label": `Evidence of claim ${c.claim_id}` },
    c.photos.map((p, n) => h("li", {}, h("a", { href: p.view_url || p.url, target: "_blank", rel: "noopener" }, h("img", { src: p.thumbnail_url, alt: `Evidence photo ${n + 1}`, loading: "lazy", width: 120, height: 120 })))),
  );
}

/** @param {HTMLElement} view */
export async function queue(view) {
  /** @type {Schemas["StaffClaimPage"]} */
  const page = await get("/staff/claims?limit=100");
  const cards = page.items.map((c) => {
    const decision = field("Decision", { name: "decision" }, { tag: "select", options: [["approved", "Approve: compensate to the wallet"], ["rejected", "Reject the claim"]] });
    const amount = field("Compensation (¥)", { name: "compensation", inputmode: "decimal", autocomplete: "off" }, { hint: `Blank: the most allowed, at most ${fen(c.insured_value_fen)} (the insured value).` });
    const note = field("Note to the customer", { name: "note", maxlength: 500, rows: 2, required: true }, { tag: "textarea" });
    const sync = () => (amount.hidden = decision.control.value !== "approved");
    decision.control.addEventListener("change", sync);
    sync();
    let key = newKey();
    const f = form({ class: "inline-form", "aria-label": `Resolve claim ${c.claim_id}` }, [h("div", { class: "row" }, decision, amount), note], "Resolve", async () => {
      /** @type {Schemas["ResolveClaimBody"]} */
      const body = { decision: decision.control.value === "approved" ? "approved" : "rejected", note: note.control.value.trim() };
      if (!body.note) throw new Error("Write a note for the customer.");
      if (body.decision === "approved" && amount.control.value.trim()) {
        const value = yuanToFen(amount.control.value);
        if (Number.isNaN(value) || value <= 0) throw new Error("Enter the compensation in yuan, e.g. 120.00, or leave it blank.");
        body.compensation_fen = value;
      }
      const done = await post(`/staff/claims/${c.claim_id}/resolve`, body, { idempotencyKey: key });
      key = newKey();
      say(done.status === "approved" ? `Claim approved: ${fen(done.compensation_fen)} to the customer's wallet.` : "Claim rejected.");
      await queue(view);
    });
    const items = c.item_ids.length ? `items ${c.item_ids.map(shortId).join(", ")}` : "the whole package";
    return h(
      "section",
      { class: "card", dataset: { claimId: c.claim_id } },
      h("h2", {}, `${KINDS[c.kind] || c.kind} · package ${shortId(c.package_id)}`),
      h("p", {}, `“${c.description}” · ${items} · filed ${when(c.created_at)}`),
      h("p", {}, `Insured value ${fen(c.insured_value_fen)} (goods declared plus shipping paid)`),
      evidence(c),
      f,
    );
  });
  fill(view, h("h1", {}, "Insurance claims"), h("p", { class: "summary" }, `${page.items.length} open ${page.items.length === 1 ? "claim" : "claims"}, oldest first.`), ...(cards.length ? cards : [h("p", { class: "empty" }, "No open claim.")]));
}
