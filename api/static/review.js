// Review page: GET /api/timescales/review lists what waits; POST /api/timescales/review decides one.
// Text only ever goes in through textContent or input values.
"use strict";

const UNITS = ["working_days", "calendar_days", "weeks", "months", "years", "hours", "minutes"];


function status(text) {
  document.getElementById("review-status").textContent = text;
}

async function call(method, body) {
  const r = await fetch("/api/timescales/review", {
    method, headers: body ? { "Content-Type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(data.detail || `The server said ${r.status}.`);
  return data;
}

function select(label, options, value) {
  const s = el("select", { "aria-label": label });
  for (const o of ["", ...options]) {
    const opt = el("option", { value: o }, o || "(choose)");
    if (o === (value || "")) opt.selected = true;
    s.append(opt);
  }
  return s;
}

function pendingItem(item, events) {
  const li = el("li", { "data-statement": item.fingerprint });
  const where = item.citation.paragraph || item.citation.heading || "";
  li.append(el("p", { class: "meta" }, `${item.citation.doc_id} ${where} (${item.authority})`));
  li.append(el("blockquote", {}, item.as_written));
  if (!item.mapped) li.append(el("p", { class: "notice" }, `Did not map: ${item.why}`));
  if (item.changed_since) li.append(el("p", { class: "notice" }, `Its paragraph changed since it was ${item.changed_since}.`));
  const trigger = select("Counts from", events, item.trigger);
  const event = select("Event", events, item.event);
  const amount = el("input", { type: "number", min: "0", max: "9999", "aria-label": "Amount" });
  amount.value = item.amount;
  const unit = select("Unit", UNITS, item.unit);
  const row = el("div", { class: "review-fields" });
  row.append(el("span", {}, "Counts from "), trigger, el("span", {}, " event "), event, amount, unit);
  li.append(row);
  const why = el("input", { type: "text", maxlength: "500", "aria-label": "Why", placeholder: "Why (optional)" });
  li.append(why);
  const decide = async (decision) => {
    const by = document.getElementById("reviewer").value.trim();
    if (by.length < 2) { status("Type your name first: every decision records who made it."); return; }
    const correction = {};
    if (trigger.value !== (item.trigger || "")) correction.trigger = trigger.value;
    if (event.value !== (item.event || "")) correction.event = event.value;
    if (Number(amount.value) !== item.amount) correction.amount = Number(amount.value);
    if (unit.value !== item.unit) correction.unit = unit.value;
    const chosen = decision === "rejected" ? "rejected" : (Object.keys(correction).length ? "corrected" : "approved");
    try {
      await call("POST", { statement: item.fingerprint, decision: chosen,
        correction: chosen === "rejected" ? {} : correction, by, why: why.value });
      await load();
      status(`${chosen}: ${item.citation.doc_id} ${where}`);
    } catch (err) {
      status(err.message);
    }
  };
  const approve = el("button", { type: "button" }, item.mapped ? "Approve (with any changes)" : "Save as a rule");
  approve.addEventListener("click", () => decide("approved"));
  const reject = el("button", { type: "button", class: "secondary" }, "Reject: not a rule");
  reject.addEventListener("click", () => decide("rejected"));
  li.append(approve, reject);
  return li;
}

async function load() {
  const data = await call("GET");
  const pending = document.getElementById("pending");
  pending.replaceChildren(...data.pending.map((i) => pendingItem(i, data.events)));
  const decided = document.getElementById("decided");
  decided.replaceChildren(...data.reviewed.map((r) =>
    el("li", {}, `${r.decision} by ${r.by} on ${r.at.slice(0, 10)}: ${r.doc_id} ${r.place}${r.why ? " (" + r.why + ")" : ""}`)));
  if (!data.pending.length) status("Nothing waits for review.");
}

load().catch((err) => status(err.message));
// Signing in (auth.js) lists again: the list needs an admin.
document.addEventListener("safeguide:signed-in", () => load().catch((err) => status(err.message)));
