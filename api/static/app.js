// safeguide web chat. Every piece of user, document or model text is set with textContent:
// nothing from a document or a model is ever parsed as HTML.
"use strict";

const state = { conversationId: null, transcript: [] };
const $ = (id) => document.getElementById(id);


async function loadFilters() {
  try {
    const [docs, status] = await Promise.all([
      fetch("/api/documents").then((r) => r.json()),
      fetch("/api/status").then((r) => r.json()),
    ]);
    const editions = new Set(), areas = new Set();
    for (const d of docs.documents || []) { editions.add(d.edition); areas.add(d.authority); }
    for (const e of [...editions].sort()) $("edition").append(el("option", { value: e }, e));
    for (const a of [...areas].sort()) $("authority").append(el("option", { value: a }, a));
    $("mode").textContent = status.mode === "extractive"
      ? "Answers quote the guidance directly (no language model)."
      : `Answers are written by ${status.model} from the guidance, then checked against it.`;
    if (status.notice) $("mode").textContent += " " + status.notice;
  } catch (err) {
    $("mode").textContent = "Could not reach the server.";
  }
}

function addUserMessage(text) {
  const box = el("article", { class: "message user" });
  const shown = el("p", { class: "answer-text" }, text);
  box.append(el("p", { class: "role" }, "You"), shown);
  $("conversation").append(box);
  state.transcript.push(`You: ${text}`);
  // Once the server has checked it, the question is shown (and kept in the transcript) as it was stored:
  // with personal details replaced.
  const index = state.transcript.length - 1;
  return (stored) => { shown.textContent = stored; state.transcript[index] = `You: ${stored}`; };
}

const isEmergency = (n) => n.startsWith("If a child is in immediate danger");

function renderAnswerText(container, text, citations) {
  container.textContent = "";
  const byN = new Map(citations.map((c) => [c.n, c]));
  for (const part of text.split(/(\[\d+\])/)) {
    const m = part.match(/^\[(\d+)\]$/);
    if (m && byN.has(Number(m[1]))) {
      const c = byN.get(Number(m[1]));
      const button = el("button", { type: "button", class: "cite", "aria-label": `Source ${m[1]}: ${c.citation}` },
        `[${m[1]}]`);
      button.addEventListener("click", () => openSource(c));
      container.append(button);
    } else {
      container.append(document.createTextNode(part));
    }
  }
}

function openSource(c) {
  $("source-title").textContent = c.citation;
  $("source-meta").textContent = `${c.heading || c.title} · edition ${c.edition} · ${c.authority}`
    + (c.page ? ` · page ${c.page}` : "");
  $("source-text").textContent = c.text;
  $("source-panel").hidden = false;
  $("source-panel").focus();
}

function renderNotices(box, notices) {
  const wrap = el("div", { class: "notices" });
  for (const n of notices) {
    const emergency = isEmergency(n);
    wrap.append(el("p", { class: emergency ? "notice emergency" : "notice", role: emergency ? "alert" : "note" }, n));
  }
  box.append(wrap);
}

function renderDeadlines(box, timescales, authority) {
  for (const t of timescales) {
    const card = el("div", { class: "deadline" });
    card.append(el("p", { class: "due" }, t.due_text), el("p", {}, t.explanation));
    const params = new URLSearchParams({ rule_id: t.rule_id, start: t.start });
    if (authority) params.set("authority", authority);
    const link = el("a", { href: `/api/timescales/due.ics?${params}`, class: "ics", download: "" },
      "Add to calendar (.ics)");
    card.append(link);
    box.append(card);
  }
}

function renderFeedback(box, index) {
  const bar = el("div", { class: "feedback" });
  for (const [rating, label] of [["up", "Helpful"], ["down", "Not helpful"]]) {
    const b = el("button", { type: "button", "aria-label": `${label} answer` }, label);
    b.addEventListener("click", async () => {
      const comment = rating === "down" ? (window.prompt("What was wrong? (optional, no personal details)") || "") : "";
      await fetch("/api/feedback", {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ conversation_id: state.conversationId, message_index: index, rating, comment }),
      });
      bar.textContent = "Thank you for the feedback.";
    });
    bar.append(b);
  }
  box.append(bar);
}

function finishAnswer(box, body, data, authority) {
  box.textContent = "";
  box.append(el("p", { class: "role" }, "safeguide"));
  // The 999 notice and the personal-data notice come before anything else; the rest follow the answer.
  const urgent = (n) => isEmergency(n) || n.startsWith("Personal details");
  const notices = data.notices || [];
  renderNotices(box, notices.filter(urgent));
  const text = el("p", { class: "answer-text" });
  renderAnswerText(text, data.answer, data.citations || []);
  box.append(text);
  renderDeadlines(box, data.timescales || [], authority);
  renderNotices(box, notices.filter((n) => !urgent(n)));
  if ((data.citations || []).length) {
    const list = el("ol", { class: "sources-list", "aria-label": "Sources" });
    for (const c of data.citations) {
      const item = el("li", { value: String(c.n) });
      const b = el("button", { type: "button", class: "cite" }, c.citation);
      b.addEventListener("click", () => openSource(c));
      item.append(b, document.createTextNode(` (${c.edition}, ${c.authority})`));
      list.append(item);
    }
    box.append(list);
  }
  if (data.message_index !== undefined) renderFeedback(box, data.message_index);
  state.transcript.push(`safeguide: ${data.answer}`);
  for (const c of data.citations || []) state.transcript.push(`  [${c.n}] ${c.citation}`);
}

async function ask(event) {
  event.preventDefault();
  const question = $("question").value.trim();
  $("form-error").hidden = true;
  if (!question) return;
  const authority = $("authority").value || null;
  const showStored = addUserMessage(question);
  $("question").value = "";
  const box = el("article", { class: "message assistant", "aria-busy": "true" });
  box.append(el("p", { class: "role" }, "safeguide"));
  let urgentShown = [];  // notices already on screen: an error later must not take them away
  const sources = el("p", { class: "sources-list" }, "Searching the guidance…");
  const draft = el("p", { class: "answer-text draft" });
  box.append(sources, draft);
  $("conversation").append(box);
  $("ask").disabled = true;
  try {
    const response = await fetch("/api/ask/stream", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ question, edition: $("edition").value || null, authority,
        conversation_id: state.conversationId }),
    });
    if (!response.ok) {
      const detail = await response.json().catch(() => ({}));
      const error = new Error(detail.detail || `The server said ${response.status}.`);
      error.notices = detail.notices || [];
      throw error;
    }
    const seen = [];  // the order events arrived in, kept on the message for tests and debugging
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      // Server-sent events may end lines with "\r\n" or "\n"; read both alike.
      buffer = (buffer + decoder.decode(value, { stream: true })).replace(/\r\n/g, "\n");
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const raw = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const kind = (raw.match(/^event: (.*)$/m) || [])[1];
        const data = JSON.parse((raw.match(/^data: (.*)$/m) || [])[1] || "null");
        if (seen[seen.length - 1] !== kind) seen.push(kind);
        box.dataset.events = seen.join(",");
        if (kind === "checked") {
          showStored(data.question);
          urgentShown = (data.notices || []).filter(isEmergency);
          if (urgentShown.length) {
            const wrap = el("div");
            renderNotices(wrap, urgentShown);
            box.insertBefore(wrap.firstChild, box.children[1]);
          }
        } else if (kind === "sources") {
          state.conversationId = data.conversation_id;
          sources.textContent = `Found ${data.citations.length} passage(s): ` +
            data.citations.map((c) => c.citation).join("; ");
        } else if (kind === "token") {
          draft.textContent += data;
        } else if (kind === "answer") {
          state.conversationId = data.conversation_id;
          finishAnswer(box, null, data, authority);
        } else if (kind === "error") {
          const error = new Error(data.detail);
          error.notices = data.notices || [];
          throw error;
        }
      }
    }
  } catch (err) {
    box.textContent = "";
    box.append(el("p", { class: "role" }, "safeguide"));
    const notices = [...new Set([...urgentShown, ...(err.notices || [])])].filter(isEmergency);
    renderNotices(box, notices);  // the 999 notice first, even when the answer failed
    box.append(el("p", { class: "error", role: "alert" }, err.message || "Something went wrong."));
  } finally {
    box.setAttribute("aria-busy", "false");
    $("ask").disabled = false;
    $("question").focus();
  }
}

function transcript() {
  return state.transcript.join("\n") + "\n";
}

// Tabs: Ask | Compare editions | ... Arrow keys move between tabs (WAI-ARIA tabs pattern).
function showTab(button) {
  for (const tab of document.querySelectorAll("[role=tab]")) {
    const on = tab === button;
    tab.setAttribute("aria-selected", String(on));
    tab.tabIndex = on ? 0 : -1;
    $(tab.getAttribute("aria-controls")).hidden = !on;
  }
  $("filters").hidden = button.getAttribute("aria-controls") !== "tab-chat";  // the chat's filters
  button.focus();
  document.dispatchEvent(new CustomEvent("tabshown", { detail: button.getAttribute("aria-controls") }));
}

function setUpTabs() {
  const tabs = [...document.querySelectorAll("[role=tab]")];
  tabs.forEach((tab, i) => {
    tab.addEventListener("click", () => showTab(tab));
    tab.addEventListener("keydown", (e) => {
      if (e.key === "ArrowRight") showTab(tabs[(i + 1) % tabs.length]);
      if (e.key === "ArrowLeft") showTab(tabs[(i - 1 + tabs.length) % tabs.length]);
    });
  });
}

document.addEventListener("DOMContentLoaded", () => {
  setUpTabs();
  loadFilters();
  $("ask-form").addEventListener("submit", ask);
  $("question").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); $("ask-form").requestSubmit(); }
  });
  $("close-source").addEventListener("click", () => { $("source-panel").hidden = true; $("question").focus(); });
  document.addEventListener("keydown", (e) => { if (e.key === "Escape") $("source-panel").hidden = true; });
  $("copy").addEventListener("click", async () => {
    try { await navigator.clipboard.writeText(transcript()); $("copy").textContent = "Copied"; }
    catch { $("copy").textContent = "Copy failed"; }
  });
  $("export").addEventListener("click", () => {
    const url = URL.createObjectURL(new Blob([transcript()], { type: "text/plain" }));
    const a = el("a", { href: url, download: "safeguide-conversation.txt" });
    document.body.append(a); a.click(); a.remove(); URL.revokeObjectURL(url);
  });
});
