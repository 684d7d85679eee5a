// @ts-check
// The server's settlement preview in words. The rule (charged silently up to a consent threshold, else
// waiting for the customer; refunds capped) lives on the server only (chalicelib/rules/settlement.py):
// this module asks it and says what it answered, so the console cannot drift from what will happen.
import { fen } from "./ui.js";

/** @typedef {import("procure-api").components["schemas"]} Schemas (generated from docs/openapi.json) */

/**
 * What a settlement decision does to the customer's money, in words.
 * @param {Schemas["SettlementDecision"]} decision
 * @param {"item" | "package"} thing who waits when the customer must act
 */
export function settlementText(decision, thing) {
  const d = decision;
  switch (d.settlement) {
    case "refunded":
      return `${fen(-d.difference_fen)} cheaper than paid: refunded ${fen(d.refund_fen)} to the customer's wallet on submit.`;
    case "charged":
      return `${fen(d.difference_fen)} more than paid: charged from the customer's wallet on submit.`;
    case "awaiting_confirmation":
      return `${fen(d.difference_fen)} more than paid, over the ${fen(d.consent_threshold_fen)} charged without asking: the ${thing} waits for the customer to pay or decline it (they are emailed).`;
    case "awaiting_payment":
      return `${fen(d.difference_fen)} more than paid and the customer's wallet is short: the ${thing} waits for the customer to pay the difference (they are emailed).`;
    default:
      return "Same as paid: no money moves.";
  }
}

/**
 * The preview's CSS kind: refund, charge (money moves now), wait (the customer must act) or same.
 * @param {Schemas["SettlementDecision"]} decision
 */
export function settlementKind(decision) {
  return (
    { refunded: "refund", charged: "charge", awaiting_confirmation: "wait", awaiting_payment: "wait" }[decision.settlement] ||
    "same"
  );
}

/**
 * Ask the server as the user types: `ask()` returns the preview's promise (or null when the input is
 * incomplete); only the answer to the latest question is shown, after a short pause in typing.
 */
/**
 * @template T
 * @param {() => Promise<T> | null} ask
 * @param {(answer: T) => void} show
 * @param {(error: unknown) => void} fail
 */
export function previewer(ask, show, fail, pauseMs = 250) {
  let asked = 0;
  let timer = 0;
  return () => {
    clearTimeout(timer);
    const mine = ++asked;
    timer = setTimeout(async () => {
      const pending = ask();
      if (!pending) return;
      try {
        const answer = await pending;
        if (mine === asked) show(answer);
      } catch (error) {
        if (mine === asked) fail(error);
      }
    }, pauseMs);
  };
}
