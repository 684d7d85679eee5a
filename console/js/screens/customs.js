// @ts-check
// The customs declaration printed with a package's 4x6 label (issue 24): a CN22 up to the UPU limit, a
// CN23 above it, as the server decided (docs/customs.md). One more 4x6 page after the label.
import { fen, h } from "../ui.js";

/** @typedef {import("procure-api").components["schemas"]} Schemas (generated from docs/openapi.json) */

const address = (a) => [a.name, a.line1, a.line2, [a.postal_code, a.city].filter(Boolean).join(" "), a.state, a.country].filter(Boolean);

/**
 * The CN22/CN23 of `pkg` (null when it has no declaration); `barcode(text)` draws the Code 128.
 * @param {Schemas["StaffPackage"]} pkg
 * @param {(text: string) => Element} barcode
 */
export function customsForm(pkg, barcode) {
  const c = pkg.customs;
  if (!c) return null;
  const a = pkg.address;
  const taxId = c.recipient_tax_id ? { BR: "CPF", KR: "PCCC" }[a.country] || "Tax id" : null;
  const rows = c.lines.map((line) =>
    h("tr", {}, h("td", {}, line.description_en), h("td", { class: "num" }, line.quantity), h("td", {}, line.hs_code || ""), h("td", {}, line.origin), h("td", { class: "num" }, fen(line.value_fen))),
  );
  return h(
    "article",
    { class: "label customs", "aria-label": `Customs declaration ${c.form}` },
    h("p", { class: "kind" }, `CUSTOMS DECLARATION ${c.form === "CN22" ? "CN 22" : "CN 23"}`, h("span", { class: "official" }, " May be opened officially")),
    barcode(pkg.package_id),
    h("p", { class: "code" }, pkg.package_id),
    h("div", { class: "parties" },
      h("div", {}, h("p", { class: "who" }, "From"), ...address(c.sender).map((l) => h("p", {}, l)), h("p", {}, c.sender.phone)),
      h("div", {}, h("p", { class: "who" }, "To"), ...address(a).map((l) => h("p", {}, l)), h("p", {}, a.phone), taxId ? h("p", { class: "tax" }, `${taxId} ${c.recipient_tax_id}`) : null),
    ),
    h("p", { class: "category" }, "☒ Sale of goods"),
    h("table", { class: "lines" }, h("thead", {}, h("tr", {}, h("th", {}, "Description"), h("th", {}, "Qty"), h("th", {}, "HS"), h("th", {}, "Origin"), h("th", {}, "Value"))), h("tbody", {}, rows)),
    h("p", { class: "total" }, `Total value ${fen(c.total_fen)} (CNY)${pkg.packed ? ` · gross ${pkg.packed.weight_g} g` : ""}`),
    h("p", { class: "sign" }, "I certify that the particulars given in this declaration are correct."),
  );
}
