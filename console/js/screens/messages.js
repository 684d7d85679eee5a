// @ts-check
// Messages (reviewer and warehouse): the queue of threads waiting for staff, oldest first, and one
// thread with its reply form. Message bodies are the customers' plain text: they are only ever set as
// text (h() appends text nodes), never as HTML.
import { get, post } from "../api.js";
import { form, field, fill, h, newKey, say, shortId, table, when } from "../ui.js";

/** @typedef {import("procure-api").components["schemas"]} Schemas */

const counted = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
const MAX_CHARS = 2000; // MESSAGE_MAX_CHARS: the server refuses longer bodies with a 400

/** "3 h 05 min" for a number of minutes */
function waited(minutes) {
  if (minutes === null || minutes === undefined) return "–";
  const hours = Math.floor(minutes / 60);
  return hours ? `${hours} h ${String(minutes % 60).padStart(2, "0")} min` : `${minutes} min`;
}

/** @param {HTMLElement} view */
export async function queue(view) {
  /** @type {Schemas["StaffThreadPage"]} */
  const page = await get("/staff/messages?status=unanswered&limit=100");
  const rows = page.items.map((t) =>
    h(
      "tr",
      { dataset: { threadId: t.thread_id } },
      h("td", {}, waited(t.waiting_minutes), h("br"), h("small", { class: "muted" }, `since ${when(t.waiting_since)}`)),
      h("td", {}, h("a", { href: `#/messages/${t.kind}/${t.subject_id}` }, `${t.kind} ${shortId(t.subject_id)}`)),
      h("td", { class: "message-preview" }, t.last_preview),
      h("td", {}, String(t.message_count)),
    ),
  );
  fill(
    view,
    h("h1", {}, "Messages"),
    h("p", { class: "summary" }, `${counted(page.items.length, "thread")} waiting for an answer, longest waiting first.`),
    rows.length ? table(["Waiting", "About", "Last message", "Messages"], rows, "Unanswered threads") : h("p", { class: "empty" }, "No message is waiting for an answer."),
  );
}

/**
 * @param {HTMLElement} view
 * @param {string} kind "order" or "package"
 * @param {string} id
 */
export async function thread(view, kind, id) {
  const path = `/staff/${kind}s/${encodeURIComponent(id)}/messages`;
  /** @type {Schemas["ThreadMessage"][]} */
  const messages = [];
  let cursor = null;
  do {
    /** @type {Schemas["ThreadMessagePage"]} */
    const page = await get(`${path}?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    messages.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  const list = h(
    "ol",
    { class: "thread", "aria-label": "Messages, oldest first" },
    messages.map((m) =>
      h(
        "li",
        { class: `message ${m.author}`, dataset: { messageId: m.message_id } },
        h("p", { class: "meta" }, m.author === "staff" ? "Staff" : "Customer", " · ", when(m.created_at), m.item_id ? ` · item ${shortId(m.item_id)}` : ""),
        h("p", { class: "body" }, m.body),
      ),
    ),
  );
  const reply = field("Your reply", { name: "body", maxlength: MAX_CHARS, rows: 4, required: true }, { tag: "textarea", hint: `Plain text, at most ${MAX_CHARS} characters. The customer is emailed (replies within a few minutes in one email).` });
  let key = newKey();
  const f = form({ class: "card", "aria-label": "Reply to the customer" }, [reply], "Send reply", async () => {
    const body = reply.control.value;
    if (!body.trim()) throw new Error("Write the reply first.");
    await post(path, { body }, { idempotencyKey: key });
    key = newKey();
    say("Reply sent.");
    await thread(view, kind, id);
  });
  const back = kind === "order" ? `#/orders/${id}` : `#/packages/${id}`;
  fill(
    view,
    h("p", { class: "crumbs" }, h("a", { href: "#/messages" }, "Messages"), " / ", `${kind} ${shortId(id)}`),
    h("h1", {}, `Messages about ${kind} ${shortId(id)}`),
    h("p", {}, h("a", { href: back }, `Open the ${kind}`)),
    messages.length ? list : h("p", { class: "empty" }, "No message yet."),
    f,
  );
}
