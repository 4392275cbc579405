// The Compare tab: GET /api/compare, shown side by side. Text only ever goes in through textContent.
"use strict";

const compareState = { loaded: false };

function compareParams() {
  const params = new URLSearchParams({ from: $("compare-from").value, to: $("compare-to").value });
  const topic = $("compare-topic").value.trim();
  if (topic) params.set("topic", topic);
  if ($("compare-model").checked) params.set("summaries", "model");
  return params;
}

function sideCell(side, aligned) {
  const td = document.createElement("td");
  if (!side) {
    td.append(el("span", { class: "meta" }, "Not in the documents held"));
    return td;
  }
  const b = el("button", { type: "button", class: "cite" }, side.citation);
  b.addEventListener("click", () => openSource({ ...side, title: side.citation, authority: "national" }));
  td.append(b);
  if (aligned) td.append(el("p", { class: "aligned" }, "Matched by meaning, not cited by a document."));
  td.append(el("blockquote", {}, side.text));
  return td;
}

function renderComparison(data) {
  const body = $("compare-table").querySelector("tbody");
  body.textContent = "";
  $("compare-before-head").textContent = `Before (${data.from})`;
  $("compare-after-head").textContent = `After (${data.to})`;
  $("compare-notes").textContent = "";
  for (const n of data.notes || []) $("compare-notes").append(el("p", { class: "notice", role: "note" }, n));
  for (const c of data.changes) {
    const row = el("tr", { "data-change": c.id });
    const head = el("th", { scope: "row" });
    head.append(el("span", { class: "kind" }, c.kind), document.createTextNode(c.topic));
    head.append(el("p", {}, c.summary));
    if (c.summary_by === "model") head.append(el("p", { class: "meta" }, "Summary written by the model, checked against its passages."));
    if (c.note && !c.aligned) head.append(el("p", { class: "meta" }, c.note));
    row.append(head, sideCell(c.before, c.aligned), sideCell(c.after, false));
    body.append(row);
  }
  $("compare-table").hidden = data.changes.length === 0;
  $("compare-status").textContent = data.changes.length
    ? `${data.changes.length} change(s)${data.topic ? ` about “${data.topic}”` : ""}.`
    : `No change${data.topic ? ` about “${data.topic}”` : ""} found between ${data.from} and ${data.to}.`;
  const earlier = $("compare-earlier");
  earlier.textContent = "";
  for (const c of data.earlier || []) {
    const item = el("li", {}, `${c.summary} `);
    const b = el("button", { type: "button", class: "cite" }, c.after ? c.after.citation : "");
    if (c.after) b.addEventListener("click", () => openSource({ ...c.after, title: c.after.citation, authority: "national" }));
    item.append(b);
    earlier.append(item);
  }
  $("compare-earlier-title").textContent =
    `Listed as new in ${data.from} by its own summaries (${(data.earlier || []).length}): not changes between these editions`;
  $("compare-earlier-box").hidden = !(data.earlier || []).length;
  const params = compareParams();
  for (const fmt of ["md", "csv", "html"]) {
    params.set("format", fmt);
    $(`export-${fmt}`).href = `/api/compare/export?${params}`;
  }
}

async function runComparison(event) {
  if (event) event.preventDefault();
  $("compare-status").textContent = "Comparing…";
  try {
    const r = await fetch(`/api/compare?${compareParams()}`);
    const data = await r.json();
    if (!r.ok) throw new Error(data.detail || `The server said ${r.status}.`);
    renderComparison(data);
    compareState.loaded = true;
  } catch (err) {
    $("compare-table").hidden = true;
    $("compare-status").textContent = err.message || "Something went wrong.";
  }
}

async function loadEditions() {
  try {
    const status = await fetch("/api/status").then((r) => r.json());
    // Model-written summaries and reworded quiz questions need a model behind the server.
    $("compare-model-box").hidden = status.mode === "extractive";
    $("quiz-reword-box").hidden = status.mode === "extractive";
  } catch { /* the options stay hidden */ }
  try {
    const docs = await fetch("/api/documents").then((r) => r.json());
    const editions = [...new Set((docs.documents || []).map((d) => d.edition))].sort();
    for (const [id, wanted] of [["compare-from", "2010"], ["compare-to", "2018"]]) {
      $(id).textContent = "";
      for (const e of editions) $(id).append(el("option", { value: e }, e));
      if (editions.includes(wanted)) $(id).value = wanted;
    }
  } catch { /* the defaults stay */ }
}

document.addEventListener("DOMContentLoaded", () => {
  loadEditions();
  $("compare-form").addEventListener("submit", runComparison);
  document.addEventListener("tabshown", (e) => {
    if (e.detail === "tab-compare" && !compareState.loaded) runComparison();
  });
});
