// @ts-check
// The API client: bearer ID token, JSON in and out, errors as ApiError with the API's plain message.
import * as auth from "./auth.js";

let base = "";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export function configure(config) {
  base = config.api_url;
}

async function send(method, path, body, headers) {
  const token = await auth.idToken();
  const all = { Authorization: `Bearer ${token}`, ...headers };
  if (body !== undefined) all["Content-Type"] = "application/json";
  try {
    return await fetch(base + path, {
      method,
      headers: all,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, "network", `no answer from ${base} (network or CORS); nothing was changed by this request`);
  }
}

/**
 * api("POST", "/staff/inbound", {tracking_no}, {idempotencyKey}) -> parsed JSON (null for 204); a caller
 * names the answer's schema (`@type {Schemas["Item"]}`) from the types generated from docs/openapi.json.
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body]
 * @param {{ idempotencyKey?: string }} [options]
 * @returns {Promise<any>}
 */
export async function api(method, path, body, { idempotencyKey } = {}) {
  const headers = idempotencyKey ? { "Idempotency-Key": idempotencyKey } : {};
  let response = await send(method, path, body, headers);
  if (response.status === 401 && auth.session()?.refresh_token) {
    try {
      await auth.refresh();
      response = await send(method, path, body, headers);
    } catch {
      /* the 401 below signs the user out */
    }
  }
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const err = data?.error || {};
    if (response.status === 401) auth.signOut("Your session has ended; please sign in again.");
    throw new ApiError(response.status, err.code || "http_error", err.message || `HTTP ${response.status}`);
  }
  return data;
}

/** @type {(path: string) => Promise<any>} */
export const get = (path) => api("GET", path);
/** @type {(path: string, body?: unknown, options?: { idempotencyKey?: string }) => Promise<any>} */
export const post = (path, body, options) => api("POST", path, body, options);

/** Public routes (catalog, shipping lines) without a token. */
export async function publicGet(path) {
  let response;
  try {
    response = await fetch(base + path);
  } catch {
    throw new ApiError(0, "network", `no answer from ${base}`);
  }
  const data = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, data?.error?.code, data?.error?.message || `HTTP ${response.status}`);
  return data;
}
