// @ts-check
// The console's shell: runtime config, sign-in, the caller's groups, navigation and routing (#/...).
import * as api from "./api.js";
import * as auth from "./auth.js";
import { countdown } from "./worktime.js";
import { act, errorBox, fail, field, fill, h, plain, showError } from "./ui.js";
import * as review from "./screens/review.js";
import * as warehouse from "./screens/warehouse.js";
import * as admin from "./screens/admin.js";
import * as photoRequests from "./screens/photo_requests.js";
import * as messages from "./screens/messages.js";
import * as claims from "./screens/claims.js";

/** @typedef {import("procure-api").components["schemas"]} Schemas (generated from docs/openapi.json) */

// index.html's shell elements: always there
const view = /** @type {HTMLElement} */ (document.getElementById("view"));
const nav = /** @type {HTMLElement} */ (document.getElementById("nav"));
const who = /** @type {HTMLElement} */ (document.getElementById("who"));
/** @type {Schemas["Me"] | null} */
let me = null;
let notice = "";

/** @typedef {(view: HTMLElement, ...args: any[]) => Promise<void>} Render */
// [hash pattern, groups allowed (admin always), title, render, in the navigation?]
/** @type {Array<[RegExp, string[], string, Render, boolean]>} */
const ROUTES = [
  [/^#\/dashboard$/, ["admin"], "Dashboard", admin.dashboard, true],
  [/^#\/review$/, ["reviewer"], "Review queue", review.queue, true],
  [/^#\/orders\/([\w-]+)$/, ["reviewer"], "Order", review.order, false],
  [/^#\/purchasing$/, ["reviewer"], "Purchasing", review.purchasing, true],
  [/^#\/inbound$/, ["warehouse"], "Inbound scan", warehouse.inbound, true],
  [/^#\/parcels$/, ["warehouse"], "Exceptional parcels", warehouse.parcels, true],
  [/^#\/inspection$/, ["warehouse"], "Inspection", warehouse.inspectionQueue, true],
  [/^#\/inspection\/([\w-]+)$/, ["warehouse"], "Inspect item", warehouse.inspect, false],
  [/^#\/packing$/, ["warehouse"], "Packing", warehouse.packing, true],
  [/^#\/packages\/([\w-]+)$/, ["warehouse"], "Package", warehouse.packageDetail, false],
  [/^#\/label\/(item|package)\/([\w-]+)$/, ["warehouse"], "Label", warehouse.label, false],
  [/^#\/photo-requests$/, ["warehouse"], "Photo requests", photoRequests.queue, true],
  [/^#\/photo-requests\/([\w-]+)$/, ["warehouse"], "Photo request", photoRequests.detail, false],
  [/^#\/destruction$/, ["warehouse"], "Destruction", warehouse.destruction, true],
  [/^#\/after-sales$/, ["reviewer", "warehouse"], "After-sales", warehouse.afterSales, true],
  [/^#\/messages$/, ["reviewer", "warehouse"], "Messages", messages.queue, true],
  [/^#\/messages\/(order|package)\/([\w-]+)$/, ["reviewer", "warehouse"], "Thread", messages.thread, false],
  [/^#\/claims$/, ["reviewer", "warehouse"], "Claims", claims.queue, true],
];

const STAFF = ["reviewer", "warehouse", "admin"];

function may(screen) {
  const groups = me?.groups || [];
  return groups.includes("admin") || screen[1].some((g) => groups.includes(g));
}

function navLinks() {
  const here = location.hash;
  fill(nav, 
    h(
      "ul",
      {},
      ROUTES.filter((r) => r[4] && may(r)).map((r) => {
        const href = r[0].source.replace(/^\^/, "").replace(/\$$/, "").replace(/\\\//g, "/");
        return h("li", {}, h("a", { href, "aria-current": here === href ? "page" : null }, r[2]));
      }),
    ),
  );
}

function header() {
  if (!me) {
    fill(who);
    fill(nav);
    return;
  }
  const out = h("button", { type: "button", class: "link", onclick: () => auth.signOut() }, "Sign out");
  fill(who, h("span", {}, me.email || me.user_id, " ", h("small", {}, (me.groups || []).join(", ") || "customer")), out);
  navLinks();
}

function home() {
  const first = ROUTES.find((r) => r[4] && may(r));
  return first ? first[0].source.replace(/^\^/, "").replace(/\$$/, "").replace(/\\\//g, "/") : "#/";
}

async function route() {
  if (!auth.session()) return signInPage();
  if (!me) {
    try {
      me = await api.get("/me");
    } catch (error) {
      if (!auth.session()) return undefined; // signed out by a 401
      return fail(view, error, "Could not load your account");
    }
  }
  const user = me;
  if (!user) return undefined; // signed out while /me was on its way
  header();
  if (!(user.groups || []).some((g) => STAFF.includes(g))) return staffOnly(user);
  const r = ROUTES.find(([pattern]) => pattern.test(location.hash));
  const m = r?.[0].exec(location.hash);
  if (!r || !m) {
    location.replace(home());
    return undefined;
  }
  if (!may(r)) {
    fill(view, h("h1", {}, "Not for your role"), h("p", {}, `${r[2]} is for: ${r[1].join(", ")}.`), h("p", {}, h("a", { href: home() }, "Back to your screens")));
    return undefined;
  }
  document.title = `${r[2]} · Procure staff console`;
  // each navigation renders into its own element: a slow screen that finishes after the user moved on
  // writes into a detached element instead of over the new screen
  const target = h("div", { class: "screen" }, h("p", { class: "muted" }, "Loading…"));
  fill(view, target);
  try {
    await r[3](target, ...m.slice(1), user);
  } catch (error) {
    fail(target, error, r[2]);
  }
  // keyboard and screen-reader users land on the new screen (unless it focused a field itself)
  if (target.isConnected && !view.contains(document.activeElement)) view.focus({ preventScroll: true });
  return undefined;
}

/** @param {Schemas["Me"]} user */
function staffOnly(user) {
  document.title = "Staff only · Procure";
  fill(nav);
  fill(view, 
    h(
      "section",
      { class: "card narrow staff-only" },
      h("h1", {}, "Staff only"),
      h("p", {}, `You are signed in as ${user.email || user.user_id}, a customer account. This console is for Procure's reviewers and warehouse staff.`),
      h("p", {}, "Customers track their orders, storage and packages in the storefront."),
      h("button", { type: "button", class: "primary", onclick: () => auth.signOut() }, "Sign out"),
    ),
  );
}

function signInPage(challenge) {
  me = null;
  header();
  document.title = "Sign in · Procure staff console";
  const box = errorBox();
  if (challenge) return newPasswordPage(challenge);
  const email = field("Email", { type: "email", name: "username", autocomplete: "username", required: true });
  const password = field("Password", { type: "password", name: "password", autocomplete: "current-password", required: true });
  const submit = h("button", { type: "submit", class: "primary" }, "Sign in");
  const f = h("form", { class: "card narrow", "aria-labelledby": "signin-h" }, h("h1", { id: "signin-h" }, "Sign in"), notice ? h("p", { class: "notice", role: "status" }, notice) : null, email, password, h("div", { class: "actions" }, submit), box);
  f.addEventListener("submit", (event) => {
    event.preventDefault();
    const username = email.control.value.trim();
    if (!username || !password.control.value) return showError(box, new Error("Enter your email and password."));
    return act(submit, box, async () => {
      const result = await auth.signIn(username, password.control.value);
      notice = "";
      if (result.challenge) return newPasswordPage(result);
      return route();
    });
  });
  fill(view, f);
  email.control.focus();
  return undefined;
}

function newPasswordPage(challenge) {
  const box = errorBox();
  const pw = field("New password", { type: "password", autocomplete: "new-password", required: true }, { hint: "At least 8 characters with upper and lower case letters, a digit and a symbol." });
  const again = field("Repeat new password", { type: "password", autocomplete: "new-password", required: true });
  const submit = h("button", { type: "submit", class: "primary" }, "Set password and sign in");
  const f = h("form", { class: "card narrow" }, h("h1", {}, "Choose your password"), h("p", {}, `First sign-in for ${challenge.username}: replace the temporary password you were given.`), pw, again, h("div", { class: "actions" }, submit), box);
  f.addEventListener("submit", (event) => {
    event.preventDefault();
    if (pw.control.value !== again.control.value) return showError(box, new Error("The two passwords differ."));
    return act(submit, box, async () => {
      await auth.completeNewPassword(challenge.username, pw.control.value, challenge.session);
      return route();
    });
  });
  fill(view, f);
  pw.control.focus();
}

// one timer updates every live countdown on the page
setInterval(() => {
  /** @type {NodeListOf<HTMLElement>} */
  const live = document.querySelectorAll("[data-due]");
  for (const el of live) {
    const c = countdown(el.dataset.due);
    el.textContent = c.text;
    const row = el.closest("[data-overdue-row]");
    if (c.overdue && row) row.classList.add("overdue");
  }
}, 1000);

async function start() {
  let config;
  try {
    const response = await fetch("config.json", { cache: "no-store" });
    if (!response.ok) throw new Error(`config.json answered ${response.status}`);
    config = await response.json();
  } catch (error) {
    fill(view, h("h1", {}, "Console not configured"), h("p", { class: "error", role: "alert" }, `The runtime configuration could not be read: ${plain(error)}`));
    return;
  }
  api.configure(config);
  auth.configure(config, (reason) => {
    me = null;
    notice = reason || "";
    if (location.hash !== "#/") history.replaceState(null, "", "#/");
    signInPage();
  });
  window.addEventListener("hashchange", () => route());
  route();
}

start();
