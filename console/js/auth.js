// @ts-check
// Sign-in against the Cognito user pool with plain fetch to the Identity Provider JSON API (no SDK).
// Tokens live in sessionStorage only (gone when the tab closes) and are refreshed before they expire.

const KEY = "procure.console.session";
const REFRESH_BEFORE_S = 120;
let config = null;
let timer = null;
/** @type {(reason?: string) => void} */
let onSignOut = () => {};

export class AuthError extends Error {
  constructor(type, message) {
    super(message);
    this.type = type;
  }
}

export function configure(runtimeConfig, signedOut) {
  config = runtimeConfig;
  onSignOut = signedOut;
  if (session()) schedule();
}

export function session() {
  try {
    return JSON.parse(sessionStorage.getItem(KEY) || "null");
  } catch {
    return null;
  }
}

/** The JWT's payload (no verification: the API verifies; this only reads exp and groups). */
export function claims(token) {
  const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
  const bytes = Uint8Array.from(atob(part.padEnd(part.length + ((4 - (part.length % 4)) % 4), "=")), (c) =>
    c.charCodeAt(0),
  );
  return JSON.parse(new TextDecoder().decode(bytes));
}

async function idp(action, body) {
  let response;
  try {
    response = await fetch(`${config.cognito_endpoint}/`, {
      method: "POST",
      headers: {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": `AWSCognitoIdentityProviderService.${action}`,
      },
      body: JSON.stringify(body),
    });
  } catch {
    throw new AuthError("network", `The sign-in service (${config.cognito_endpoint}) could not be reached.`);
  }
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const type = String(data.__type || data.code || "Error").split("#").pop();
    const words = {
      NotAuthorizedException: "Wrong email or password.",
      UserNotFoundException: "Wrong email or password.",
      PasswordResetRequiredException: "This account must reset its password first.",
      InvalidPasswordException: data.message || "The new password does not meet the policy.",
      TooManyRequestsException: "Too many attempts; wait a minute and try again.",
    };
    throw new AuthError(type, words[type] || data.message || `Sign-in failed (${response.status}).`);
  }
  return data;
}

function store(result, previous = {}) {
  const id = claims(result.IdToken);
  const s = {
    username: previous.username || id["cognito:username"] || id.email,
    id_token: result.IdToken,
    access_token: result.AccessToken,
    refresh_token: result.RefreshToken || previous.refresh_token,
    expires_at: id.exp,
  };
  sessionStorage.setItem(KEY, JSON.stringify(s));
  schedule();
  return s;
}

function schedule() {
  clearTimeout(timer);
  const s = session();
  if (!s) return;
  const wait = Math.max(5, s.expires_at - REFRESH_BEFORE_S - Date.now() / 1000);
  timer = setTimeout(() => refresh().catch(() => signOut("Your session has ended; please sign in again.")), wait * 1000);
}

/** {signedIn: true} or {challenge: "NEW_PASSWORD_REQUIRED", session, username}. */
export async function signIn(username, password) {
  const data = await idp("InitiateAuth", {
    ClientId: config.client_id,
    AuthFlow: "USER_PASSWORD_AUTH",
    AuthParameters: { USERNAME: username, PASSWORD: password },
  });
  if (data.ChallengeName === "NEW_PASSWORD_REQUIRED") {
    return { challenge: data.ChallengeName, session: data.Session, username };
  }
  if (data.ChallengeName) throw new AuthError(data.ChallengeName, `Sign-in needs ${data.ChallengeName}, which the console does not support.`);
  store(data.AuthenticationResult, { username });
  return { signedIn: true };
}

export async function completeNewPassword(username, newPassword, challengeSession) {
  const data = await idp("RespondToAuthChallenge", {
    ClientId: config.client_id,
    ChallengeName: "NEW_PASSWORD_REQUIRED",
    Session: challengeSession,
    ChallengeResponses: { USERNAME: username, NEW_PASSWORD: newPassword },
  });
  if (!data.AuthenticationResult) throw new AuthError(data.ChallengeName || "Error", "Cognito asked for another step.");
  store(data.AuthenticationResult, { username });
  return { signedIn: true };
}

export async function refresh() {
  const s = session();
  if (!s?.refresh_token) throw new AuthError("NoSession", "Not signed in.");
  const data = await idp("InitiateAuth", {
    ClientId: config.client_id,
    AuthFlow: "REFRESH_TOKEN_AUTH",
    AuthParameters: { REFRESH_TOKEN: s.refresh_token },
  });
  return store(data.AuthenticationResult, s);
}

/** A valid ID token, refreshed first when it expires within a minute. */
export async function idToken() {
  let s = session();
  if (!s) throw new AuthError("NoSession", "Not signed in.");
  if (s.expires_at - Date.now() / 1000 < 60) s = await refresh();
  return s.id_token;
}

export function signOut(reason) {
  const s = session();
  clearTimeout(timer);
  sessionStorage.removeItem(KEY);
  if (s?.access_token && !reason) {
    idp("GlobalSignOut", { AccessToken: s.access_token }).catch(() => {});
  }
  onSignOut(reason);
}
