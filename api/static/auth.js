// Sign-in: a token (from `safeguide users add`, the one printed at first start, or the council's
// provider) is kept for this tab only (sessionStorage) and sent as "Authorization: Bearer ..." with every
// request to /api/. Loaded before the other scripts, so their fetch calls carry it. Text goes in through
// textContent only.
//
// With single sign-on (SAFEGUIDE_AUTH=oidc and a client id), "Sign in with your organisation" runs the
// authorization code flow with PKCE, the page being a public client (Entra: a single-page application
// registration): to the provider and back to "/" with a code, which the page exchanges at the provider's
// token endpoint for tokens (the CSP allows that one address). The state and the ID token's nonce must
// match what this tab sent, and the code leaves the address bar at once.
"use strict";

const TOKEN_KEY = "safeguide-token";
const PENDING_KEY = "safeguide-sign-in";
const plainFetch = window.fetch.bind(window);

window.fetch = (input, init = {}) => {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const url = typeof input === "string" ? input : input.url;
  if (token && url.startsWith("/api/")) {
    const headers = new Headers(init.headers || {});
    headers.set("Authorization", `Bearer ${token}`);
    return plainFetch(input, { ...init, headers });
  }
  return plainFetch(input, init);
};

function signInStatus(text) {
  const who = document.getElementById("signin-status");
  if (who) who.textContent = text;
}

async function showWho() {
  const r = await fetch("/api/whoami");
  const data = await r.json().catch(() => ({}));
  if (!r.ok) {
    sessionStorage.removeItem(TOKEN_KEY);
    signInStatus(data.detail || "That token was not accepted.");
    return;
  }
  const out = document.getElementById("signout");
  if (data.signed_in) {
    signInStatus(`Signed in as ${data.name} (${data.role}).`);
    if (out) out.hidden = false;
    document.dispatchEvent(new CustomEvent("safeguide:signed-in", { detail: data }));
  } else {
    signInStatus(data.anonymous_ask ? "Not signed in: you can ask; quizzes need a trainer, review an admin."
      : "Sign in to use safeguide.");
    if (out) out.hidden = true;
  }
}

function randomText(bytes) {
  const raw = crypto.getRandomValues(new Uint8Array(bytes));
  return base64url(raw);
}

function base64url(bytes) {
  let text = "";
  for (const b of new Uint8Array(bytes)) text += String.fromCharCode(b);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function tokenClaims(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(part + "=".repeat((4 - (part.length % 4)) % 4)));
  } catch {
    return {};
  }
}

function redirectUri() {
  return `${location.origin}/`;
}

async function startSignIn(config) {
  const pending = { verifier: randomText(48), state: randomText(24), nonce: randomText(24),
    back: location.pathname === "/" ? "" : location.pathname };
  sessionStorage.setItem(PENDING_KEY, JSON.stringify(pending));
  const challenge = base64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(pending.verifier)));
  const url = new URL(config.authorize_url);
  for (const [key, value] of Object.entries({
    response_type: "code", client_id: config.client_id, redirect_uri: redirectUri(), scope: config.scope,
    state: pending.state, nonce: pending.nonce, code_challenge: challenge, code_challenge_method: "S256",
    response_mode: "query",
  })) url.searchParams.set(key, value);
  location.assign(url.toString());
}

// Back from the provider: exchange the code for tokens. True when this load was a sign-in's return.
async function finishSignIn(config) {
  const reply = new URLSearchParams(location.search);
  if (!reply.has("code") && !reply.has("error")) return false;
  const pending = JSON.parse(sessionStorage.getItem(PENDING_KEY) || "null");
  sessionStorage.removeItem(PENDING_KEY);
  history.replaceState(null, "", location.pathname);  // the code is used once, and not left in view
  if (reply.has("error")) {
    throw new Error(`sign-in failed: ${reply.get("error_description") || reply.get("error")}`);
  }
  if (!pending || reply.get("state") !== pending.state) {
    throw new Error("sign-in failed: the reply does not match a sign-in started here; start again");
  }
  const r = await plainFetch(config.token_url, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "authorization_code", code: reply.get("code"),
      redirect_uri: redirectUri(), client_id: config.client_id, code_verifier: pending.verifier }),
  });
  const data = await r.json().catch(() => ({}));
  if (!r.ok || !data[config.token]) {
    throw new Error(`sign-in failed: ${data.error_description || data.error || `the provider said ${r.status}`}`);
  }
  if (data.id_token && tokenClaims(data.id_token).nonce !== pending.nonce) {
    throw new Error("sign-in failed: the provider's ID token is not for this sign-in; start again");
  }
  sessionStorage.setItem(TOKEN_KEY, data[config.token]);
  if (pending.back) location.assign(pending.back);
  return true;
}

function signInForm() {
  const form = el("form", { id: "signin-form", class: "signin", "aria-label": "Sign in" });
  form.append(
    el("button", { type: "button", id: "signin-sso", hidden: "" }, "Sign in with your organisation"),
    el("label", { for: "signin-token" }, "Sign-in token"),
    el("input", { id: "signin-token", type: "password", autocomplete: "off", spellcheck: "false" }),
    el("button", { type: "submit", id: "signin" }, "Sign in"),
    el("button", { type: "button", id: "signout", hidden: "" }, "Sign out"),
    el("span", { id: "signin-status", role: "status", "aria-live": "polite" }),
  );
  return form;
}

document.addEventListener("DOMContentLoaded", () => {
  const box = document.getElementById("signin-box");
  if (!box) return;
  const form = signInForm();
  box.replaceWith(form);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = document.getElementById("signin-token");
    if (!input.value.trim()) return;
    sessionStorage.setItem(TOKEN_KEY, input.value.trim());
    input.value = "";
    await showWho();
  });
  document.getElementById("signout").addEventListener("click", async () => {
    sessionStorage.removeItem(TOKEN_KEY);
    await showWho();
  });
  (async () => {
    const r = await plainFetch("/api/auth/config");
    const config = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(config.detail || "single sign-on is not available just now");
    if (config.browser) {
      const sso = document.getElementById("signin-sso");
      sso.hidden = false;
      sso.addEventListener("click", () => startSignIn(config).catch((err) => signInStatus(err.message)));
      await finishSignIn(config);
    }
  })()
    .then(
      () => showWho(),
      async (err) => {  // who is signed in (if anyone), then why the sign-in did not work
        await showWho().catch(() => {});
        signInStatus(err.message);
      },
    )
    .catch((err) => signInStatus(err.message));
});

// A link to /api/ (an export, a calendar file) cannot carry the header, so when signed in it is fetched
// with it and saved under the name the server gives.
document.addEventListener("click", async (event) => {
  const link = event.target.closest && event.target.closest("a[href^='/api/']");
  if (!link || !sessionStorage.getItem(TOKEN_KEY)) return;
  event.preventDefault();
  const r = await fetch(link.getAttribute("href"));
  if (!r.ok) {
    const data = await r.json().catch(() => ({}));
    signInStatus(data.detail || `The server said ${r.status}.`);
    return;
  }
  const named = /filename="([^"]+)"/.exec(r.headers.get("Content-Disposition") || "");
  const save = document.createElement("a");
  save.href = URL.createObjectURL(await r.blob());
  save.download = named ? named[1] : (link.getAttribute("download") || "safeguide-download");
  document.body.append(save);
  save.click();
  save.remove();
  setTimeout(() => URL.revokeObjectURL(save.href), 10_000);
});
