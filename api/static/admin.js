// Documents page: upload (POST /api/admin/documents, the file as the body), follow the ingest job, list
// the documents (GET /api/documents), show one's passages, remove one. Text goes in via textContent only.
"use strict";


function say(text) {
  document.getElementById("upload-status").textContent = text;
}

async function api(method, url, body, headers = {}) {
  const r = await fetch(url, { method, body, headers });
  const data = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(data.detail || `The server said ${r.status}.`);
  return data;
}

async function follow(job) {
  const bar = document.getElementById("upload-progress");
  bar.hidden = false;
  for (;;) {
    const now = await api("GET", `/api/admin/jobs/${job.id}`);
    if (now.total) { bar.max = now.total; bar.value = now.done; }
    if (now.state === "done" || now.state === "failed") {
      bar.hidden = true;
      // The list first, then the verdict: "Done" must never show beside a list that is not yet current.
      let stale = "";
      await listDocuments().catch((err) => { stale = ` (The list could not be refreshed: ${err.message})`; });
      say((now.state === "done" ? `Done: ${now.what}. ${now.message}` : `Failed: ${now.what}: ${now.message}`) + stale);
      return now;
    }
    say(`${now.what}: ${now.state}${now.total ? ` (${now.done} of ${now.total} passages embedded)` : ""}`);
    await new Promise((done) => setTimeout(done, 500));
  }
}

async function showPassages(id) {
  const data = await api("GET", `/api/admin/documents/${encodeURIComponent(id)}/passages`);
  document.getElementById("passages-title").hidden = false;
  document.getElementById("passages-title").textContent = `Passages of ${id} (${data.passages.length})`;
  document.getElementById("passages").replaceChildren(...data.passages.map((p) =>
    el("li", {}, `${p.citation}: ${p.text.slice(0, 240)}${p.text.length > 240 ? "…" : ""}`)));
}

async function listDocuments() {
  const data = await api("GET", "/api/documents");
  const list = document.getElementById("documents");
  list.replaceChildren(...(data.documents || []).map((d) => {
    const li = el("li", { "data-document": d.id },
      `${d.id}: ${d.title} [${d.edition}, ${d.authority}] ${d.indexed ? `${d.chunks} passages` : "not indexed yet"}`);
    const look = el("button", { type: "button", class: "secondary" }, "Passages");
    look.addEventListener("click", () => showPassages(d.id).catch((err) => say(err.message)));
    const drop = el("button", { type: "button", class: "secondary" }, "Remove");
    drop.addEventListener("click", async () => {
      if (!window.confirm(`Remove ${d.id}? It is moved aside, not deleted, and the index is rebuilt.`)) return;
      try { await follow((await api("DELETE", `/api/admin/documents/${encodeURIComponent(d.id)}`)).job); }
      catch (err) { say(err.message); }
    });
    li.append(" ", look, " ", drop);
    return li;
  }));
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("upload-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = document.getElementById("up-file").files[0];
    if (!file) return;
    const q = new URLSearchParams({ filename: file.name });
    for (const f of ["id", "title", "label", "kind", "edition", "authority", "published"]) {
      const v = document.getElementById(`up-${f}`).value.trim();
      if (v) q.set(f, v);
    }
    say(`Checking ${file.name}…`);
    try {
      const made = await api("POST", `/api/admin/documents?${q}`, file,
        { "Content-Type": "application/octet-stream" });
      say(`${made.document.id}: ${made.passages} passages read; ingesting…`);
      await follow(made.job);
    } catch (err) {
      say(err.message);
    }
  });
  listDocuments().catch((err) => say(err.message));
});
