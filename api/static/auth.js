// Sign-in: a token (from `safeguide users add`, or the one printed at first start) is kept for this tab
// only (sessionStorage) and sent as "Authorization: Bearer ..." with every request to /api/.
// Loaded before the other scripts, so their fetch calls carry it. Text goes in through textContent only.
"use strict";

const TOKEN_KEY = "safeguide-token";
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

function signInForm() {
  const form = el("form", { id: "signin-form", class: "signin", "aria-label": "Sign in" });
  form.append(
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
  showWho().catch((err) => signInStatus(err.message));
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
