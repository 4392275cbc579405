"""A user's own area documents: their timescales are read at ingest and used for that area (issue 13).

The Westmarsh documents (eval/area_docs: a printed PDF manual and a Word guide, written for these
tests) set local timescales that differ from the national ones. They are ingested with no code change
and every deadline question asked for Westmarsh must use Westmarsh's own rule, say so, say it is not
yet reviewed, and name the national rule that differs.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from ingest.timescale_extract import Vocabulary
from safeguide.timescales.rules import RuleSet

ROOT = Path(__file__).resolve().parent.parent
AREA_DOCS = ROOT / "eval" / "area_docs"
CORPUS = ROOT / "corpus"
TODAY = date(2026, 3, 20)


@pytest.fixture(scope="module")
def area_index(tmp_path_factory: pytest.TempPathFactory, embedder):  # type: ignore[no-untyped-def]
    from ingest.store import IndexLocation, ingest

    location = IndexLocation(tmp_path_factory.mktemp("area") / "index")
    report = ingest(
        [AREA_DOCS], location, embedder, max_bytes=10**7, vocabulary=Vocabulary.load(CORPUS / "events.toml")
    )
    assert {"westmarsh-procedures-2026", "westmarsh-escalation-2026"} <= set(report.added)
    return location


@pytest.fixture(scope="module")
def rules(area_index) -> RuleSet:  # type: ignore[no-untyped-def]
    from safeguide.services import document_rules

    reviewed = RuleSet.load(CORPUS / "timescales.toml")
    events = set(Vocabulary.load(CORPUS / "events.toml").events) | reviewed.events()
    return reviewed.with_extracted(document_rules(area_index, None, events)[0])


@pytest.fixture(scope="module")
def chain(area_index, embedder, rules):  # type: ignore[no-untyped-def]
    from safeguide.chat.chain import AnswerChain
    from safeguide.retrieval.hybrid import HybridRetriever
    from safeguide.services import build_navigator
    from safeguide.timescales.calendar import default_calendar

    cal = default_calendar()
    retriever = HybridRetriever(area_index, embedder)
    navigator = build_navigator(CORPUS / "pathway.toml", retriever)
    return AnswerChain(retriever, rules, lambda area: cal, navigator=navigator)


@pytest.mark.slow
def test_the_areas_timescales_are_read_at_ingest(rules: RuleSet) -> None:
    westmarsh = {(r.trigger, r.event): r for r in rules.rules.values() if r.authority == "westmarsh"}
    icpc = westmarsh[("strategy-discussion", "icpc")]
    assert (icpc.amount, icpc.unit, icpc.status) == (12, "working_days", "extracted")
    assert (icpc.citation.doc_id, icpc.citation.paragraph) == ("westmarsh-procedures-2026", "5.1")
    assert westmarsh[("icpc", "core-group")].amount == 8
    assert westmarsh[("allegation", "lado-informed")].unit == "hours"
    assert westmarsh[("allegation", "lado-informed")].citation.paragraph == "B1"  # from the Word file


@pytest.mark.slow
def test_every_step_westmarsh_times_uses_westmarsh_rule(rules: RuleSet) -> None:
    own = {(r.trigger, r.event) for r in rules.rules.values() if r.authority == "westmarsh"}
    chosen = rules.for_authority("westmarsh")
    for step in own:
        used = [r for r in chosen if (r.trigger, r.event) == step]
        assert used and all(r.authority == "westmarsh" for r in used), (step, [r.id for r in used])
    # and no other area's rule, ever
    assert {r.authority for r in chosen} <= {"westmarsh", "national"}
    assert all(r.authority != "westmarsh" for r in rules.for_authority("hampshire"))
    assert all(r.authority != "westmarsh" for r in rules.for_authority(None))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("question", "due", "national"),
    [
        (
            "our strategy discussion in X was on Monday 2 March 2026, when must the ICPC be held?",
            "2026-03-18",
            "15 working days",
        ),
        ("The initial conference was on 2 March 2026. When is the first core group due?", "2026-03-12", "10"),
    ],
)
def test_a_deadline_question_for_the_area_uses_its_own_rule(
    chain, question: str, due: str, national: str
) -> None:  # type: ignore[no-untyped-def]
    answer = chain.answer(question, authority="westmarsh", today=TODAY)
    assert [t["due"] for t in answer.timescales] == [due], answer.answer
    assert answer.timescales[0]["authority"] == "westmarsh"
    assert "Westmarsh's own rule" in answer.answer
    assert any("not yet reviewed" in n for n in answer.notices), answer.notices
    assert any(n.startswith("The national rule differs") and national in n for n in answer.notices), (
        answer.notices
    )


@pytest.mark.slow
def test_next_steps_in_the_area_are_timed_by_its_own_rules(chain) -> None:  # type: ignore[no-untyped-def]
    answer = chain.answer(
        "A pupil told me her dad hits her and I phoned the referral in this morning. What are my next steps?",
        authority="westmarsh",
        today=TODAY,
    )
    written = next(t for t in answer.timescales if t["event"] == "referral-confirmed-in-writing")
    assert (written["authority"], written["due"]) == ("westmarsh", "2026-03-21")  # 24 hours, not 48
    assert "24 hours after the referral (Westmarsh's rule)" in answer.answer, answer.answer
    assert any("not yet reviewed" in n for n in answer.notices)


@pytest.mark.slow
def test_without_an_area_the_national_rule_is_used_and_named(chain) -> None:  # type: ignore[no-untyped-def]
    answer = chain.answer(
        "our strategy discussion was on Monday 2 March 2026, when must the ICPC be held?", today=TODAY
    )
    assert [t["due"] for t in answer.timescales] == ["2026-03-23"], answer.answer
    assert "the national rule" in answer.answer


@pytest.mark.slow
def test_an_area_statement_matched_to_no_step_is_named_when_the_national_rule_is_used(
    area_index, embedder, rules: RuleSet
) -> None:  # type: ignore[no-untyped-def]
    """Issue 13's failure, when the reader cannot map the area's statement: Westmarsh's ICPC timescale
    read but matched to no step. The national rule is used (there is no other), and the answer says that
    Westmarsh's own documents state a timescale for it, quoting and citing the statement."""
    from safeguide.chat.chain import AnswerChain
    from safeguide.retrieval.hybrid import HybridRetriever
    from safeguide.services import unmatched
    from safeguide.timescales.calendar import default_calendar

    own = [r for r in rules.rules.values() if r.authority == "westmarsh" and r.event == "icpc"]
    assert own
    statement = {**own[0].model_dump(mode="json"), "event": None, "trigger": None, "mapped": False}
    pending = unmatched([statement], Vocabulary.load(CORPUS / "events.toml"))
    assert "icpc" in pending[0]["names"]  # its sentence names the initial conference
    without = RuleSet([r for r in rules.rules.values() if r not in own], pending)
    cal = default_calendar()
    answer = AnswerChain(HybridRetriever(area_index, embedder), without, lambda area: cal).answer(
        "our strategy discussion was on Monday 2 March 2026, when must the ICPC be held?",
        authority="westmarsh",
        today=TODAY,
    )
    assert [t["due"] for t in answer.timescales] == ["2026-03-23"], answer.answer  # the national rule
    said = [n for n in answer.notices if n.startswith("Westmarsh's own documents state a timescale")]
    assert said and own[0].citation.evidence in said[0] and own[0].citation.doc_id in said[0], answer.notices
    # With no area chosen, nothing is said of Westmarsh's statements.
    national = AnswerChain(HybridRetriever(area_index, embedder), without, lambda area: cal).answer(
        "our strategy discussion was on Monday 2 March 2026, when must the ICPC be held?", today=TODAY
    )
    assert not any("Westmarsh" in n for n in national.notices), national.notices


@pytest.fixture(scope="module")
def area_lead(area_index) -> str:  # type: ignore[no-untyped-def]
    """The token of an admin called "A. Lead" in the area server's local accounts."""
    from safeguide.access import UserStore
    from safeguide.settings import Settings

    with Settings(data_dir=area_index.root.parent).open_database() as db:
        return UserStore(db).add("A. Lead", "admin")


@pytest.fixture(scope="module")
def area_server(area_index, area_lead: str, output_dir: Path):  # type: ignore[no-untyped-def]
    from tests.servers import running_server

    env = {
        "SAFEGUIDE_DATA_DIR": str(area_index.root.parent),
        "SAFEGUIDE_CORPUS_DIR": str(CORPUS),
        "SAFEGUIDE_LLM_BACKEND": "extractive",
    }
    with running_server(env, output_dir / "area-server.log") as url:
        yield url


@pytest.mark.slow
def test_review_page_approves_a_rule_and_answers_stop_saying_unreviewed(
    area_server: str, area_lead: str
) -> None:
    import shutil

    import httpx
    from playwright.sync_api import sync_playwright

    from tests.test_web import CHROMIUM

    if not shutil.which(CHROMIUM):
        pytest.fail("Chromium is missing: `make test` installs the Debian package `chromium`")
    question = {
        "question": "our strategy discussion was on Monday 2 March 2026, when must the ICPC be held?",
        "authority": "westmarsh",
        "today": "2026-03-20",
    }
    before = httpx.post(area_server + "/api/ask", json=question, timeout=60).json()
    assert any("not yet reviewed" in n for n in before["notices"]), before["notices"]
    assert httpx.get(area_server + "/api/timescales/review").status_code == 401  # review needs an admin
    lead = {"Authorization": f"Bearer {area_lead}"}
    pending = httpx.get(area_server + "/api/timescales/review", headers=lead).json()["pending"]
    icpc = next(p for p in pending if p["citation"].get("paragraph") == "5.1")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])
        page = browser.new_page()
        page.set_default_timeout(30_000)
        page.goto(area_server + "/review")
        page.locator("#review-status", has_text="sign in").wait_for()
        page.fill("#signin-token", area_lead)
        page.click("#signin")
        page.locator("#signin-status", has_text="A. Lead").wait_for()
        item = page.locator(f'li[data-statement="{icpc["fingerprint"]}"]')
        item.get_by_role("button", name="Approve (with any changes)").click()
        assert "Type your name first" in page.locator("#review-status").inner_text()  # who is required
        page.fill("#reviewer", "A. Lead")
        item.get_by_role("button", name="Approve (with any changes)").click()
        page.locator("#review-status", has_text="approved").wait_for()
        assert page.locator(f'li[data-statement="{icpc["fingerprint"]}"]').count() == 0
        assert "approved by A. Lead" in page.locator("#decided").inner_text()
        browser.close()
    after = httpx.post(area_server + "/api/ask", json=question, timeout=60).json()
    assert [t["due"] for t in after["timescales"]] == ["2026-03-18"]
    assert after["timescales"][0]["status"] == "reviewed"
    assert not any("not yet reviewed" in n for n in after["notices"]), after["notices"]
