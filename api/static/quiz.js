// The Quiz tab: build (POST /api/quiz), review (PUT/DELETE/regenerate), export, take the quiz.
// Text only ever goes in through textContent or input values.
"use strict";

const quizState = { quiz: null };

async function quizCall(method, url, body) {
  const r = await fetch(url, {
    method, headers: body ? { "Content-Type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(data.detail || `The server said ${r.status}.`);
  return data;
}

function sourceButton(q) {
  const b = el("button", { type: "button", class: "cite" }, q.citation.label);
  b.addEventListener("click", () => openSource({ citation: q.citation.label, heading: q.citation.heading,
    title: q.citation.label, edition: q.citation.edition, authority: "", text: q.citation.text }));
  return b;
}

function reviewItem(q, n) {
  const item = el("li", { "data-question": q.id });
  const stem = el("textarea", { rows: "2", "aria-label": `Question ${n}` });
  stem.value = q.stem;
  item.append(stem);
  const options = [];
  q.options.forEach((text, i) => {
    const row = el("div", { class: "quiz-option" });
    const radio = el("input", { type: "radio", name: `right-${q.id}`, "aria-label": `Option ${i + 1} is right` });
    radio.checked = i === q.answer_index;
    const input = el("input", { type: "text", "aria-label": `Question ${n} option ${i + 1}` });
    input.value = text;
    row.append(radio, input);
    options.push({ radio, input });
    item.append(row);
  });
  const source = el("p", { class: "meta" }, "Source: ");
  source.append(sourceButton(q));
  const message = el("p", { class: "meta", role: "status" });
  const save = el("button", { type: "button" }, "Save");
  const drop = el("button", { type: "button" }, "Drop");
  const again = el("button", { type: "button" }, "Replace");
  const base = `/api/quiz/${quizState.quiz.quiz_id}/questions/${encodeURIComponent(q.id)}`;
  save.addEventListener("click", async () => {
    try {
      const edited = await quizCall("PUT", base, {
        stem: stem.value, options: options.map((o) => o.input.value),
        answer_index: options.findIndex((o) => o.radio.checked),
      });
      quizState.quiz.questions[quizState.quiz.questions.findIndex((x) => x.id === q.id)] = edited;
      message.textContent = "Saved.";
    } catch (err) { message.textContent = err.message; message.className = "error"; }
  });
  drop.addEventListener("click", async () => {
    try {
      await quizCall("DELETE", base);
      quizState.quiz.questions = quizState.quiz.questions.filter((x) => x.id !== q.id);
      renderReview();
    } catch (err) { message.textContent = err.message; }
  });
  again.addEventListener("click", async () => {
    try {
      const fresh = await quizCall("POST", `${base}/regenerate`);
      quizState.quiz.questions[quizState.quiz.questions.findIndex((x) => x.id === q.id)] = fresh;
      renderReview();
    } catch (err) { message.textContent = err.message; }
  });
  const bar = el("div", { class: "actions" });
  bar.append(save, drop, again);
  item.append(source, bar, message);
  return item;
}

function renderReview() {
  const list = $("quiz-review");
  list.textContent = "";
  quizState.quiz.questions.forEach((q, i) => list.append(reviewItem(q, i + 1)));
  const id = quizState.quiz.quiz_id;
  for (const fmt of ["gift", "moodle-xml", "csv", "xlsx", "html"]) {
    $(`quiz-export-${fmt}`).href = `/api/quiz/${id}/export?format=${fmt}`;
  }
  $("quiz-tools").hidden = false;
  $("quiz-status").textContent =
    `${quizState.quiz.questions.length} question(s), seed ${quizState.quiz.seed}. Same seed and scope, same quiz.`;
}

async function buildQuiz(event) {
  event.preventDefault();
  $("quiz-status").textContent = "Building…";
  const body = { n: Number($("quiz-n").value) || 10, difficulty: $("quiz-difficulty").value };
  if ($("quiz-seed").value !== "") body.seed = Number($("quiz-seed").value);
  if ($("quiz-edition").value) body.edition = $("quiz-edition").value;
  if ($("quiz-authority").value) body.authority = $("quiz-authority").value;
  if ($("quiz-topic").value.trim()) body.topic = $("quiz-topic").value.trim();
  if ($("quiz-reword").checked) body.reword = true;
  try {
    quizState.quiz = await quizCall("POST", "/api/quiz", body);
    $("quiz-play").hidden = true;
    $("quiz-review").hidden = false;
    renderReview();
  } catch (err) {
    $("quiz-status").textContent = err.message;
  }
}

function takeQuiz() {
  const list = $("quiz-play-list");
  list.textContent = "";
  quizState.quiz.questions.forEach((q, n) => {
    const item = el("li", { "data-question": q.id });
    const fieldset = el("fieldset");
    fieldset.append(el("legend", {}, q.stem));
    q.options.forEach((text, i) => {
      const label = el("label", { class: "quiz-option" });
      label.append(el("input", { type: "radio", name: `play-${n}`, value: String(i) }), document.createTextNode(text));
      fieldset.append(label);
    });
    item.append(fieldset, el("p", { class: "result" }));
    list.append(item);
  });
  $("quiz-score").textContent = "";
  $("quiz-review").hidden = true;
  $("quiz-tools").hidden = true;
  $("quiz-play").hidden = false;
}

function markQuiz(event) {
  event.preventDefault();
  let right = 0;
  const items = [...$("quiz-play-list").children];
  quizState.quiz.questions.forEach((q, n) => {
    const item = items[n];
    const chosen = item.querySelector("input:checked");
    const picked = chosen ? Number(chosen.value) : -1;
    const ok = picked === q.answer_index;
    if (ok) right += 1;
    const result = item.querySelector(".result");
    result.textContent = "";
    result.className = `result ${ok ? "right" : "wrong"}`;
    result.append(document.createTextNode(
      (ok ? "Right. " : `Not quite: the answer is “${q.options[q.answer_index]}”. `) +
      (picked >= 0 ? q.feedback[picked] + " " : "") + (ok ? "" : q.feedback[q.answer_index] + " ")));
    result.append(document.createTextNode("Source: "), sourceButton(q));
  });
  $("quiz-score").textContent = `You scored ${right} out of ${quizState.quiz.questions.length}.`;
}

async function loadQuizFilters() {
  try {
    const docs = await fetch("/api/documents").then((r) => r.json());
    const editions = new Set(), areas = new Set();
    for (const d of docs.documents || []) { editions.add(d.edition); areas.add(d.authority); }
    for (const e of [...editions].sort()) $("quiz-edition").append(el("option", { value: e }, e));
    for (const a of [...areas].sort()) $("quiz-authority").append(el("option", { value: a }, a));
  } catch { /* the defaults stay */ }
}

document.addEventListener("DOMContentLoaded", () => {
  loadQuizFilters();
  $("quiz-form").addEventListener("submit", buildQuiz);
  $("quiz-take").addEventListener("click", takeQuiz);
  $("quiz-play").addEventListener("submit", markQuiz);
  $("quiz-back").addEventListener("click", () => {
    $("quiz-play").hidden = true; $("quiz-review").hidden = false; $("quiz-tools").hidden = false;
  });
});
