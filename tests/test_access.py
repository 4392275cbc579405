"""Sign-in, roles and the API's edge: local accounts, OpenID Connect tokens (against a real key set served
on loopback), every trainer and admin route refusing anonymous and wrong-role callers, security headers,
closed CORS, rate limits, and the page's CSP stopping an injected inline script."""

from __future__ import annotations

import http.server
import json
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from sqlalchemy import select, update

from safeguide.access import Access, NotPermitted, NotSignedIn, OidcVerifier, Principal, UserStore
from safeguide.access.oidc import SignInUnavailable, parse_role_map
from safeguide.database import Database
from safeguide.database.tables import users as users_table
from safeguide.errors import InvalidQuery

# ------------------------------------------------------------------------------------ local accounts


def test_local_accounts(database: Database) -> None:
    store = UserStore(database)
    token = store.add("Sam Lead", "trainer")
    assert store.verify(token) == Principal("Sam Lead", "trainer", "local")
    assert [u["name"] for u in store.users()] == ["Sam Lead"]
    with pytest.raises(InvalidQuery, match="already exists"):
        store.add("Sam Lead", "admin")
    with pytest.raises(InvalidQuery, match="choose one of practitioner, trainer, admin"):
        store.add("Ali", "owner")
    with pytest.raises(InvalidQuery, match="user name"):
        store.add("", "admin")
    with pytest.raises(NotSignedIn):
        store.verify(token + "x")
    store.remove("Sam Lead")
    with pytest.raises(NotSignedIn):
        store.verify(token)  # removed: the token stops working at once
    store.add("Ali", "admin")
    with database.read() as conn:
        kept = [tuple(r) for r in conn.execute(select(users_table))]
    assert kept and not any(token in str(v) for r in kept for v in r)  # only the hash is kept


def test_the_token_is_never_written_to_the_sqlite_file(tmp_path: Path) -> None:
    db = Database.sqlite(tmp_path / "safeguide.sqlite3")
    token = UserStore(db).add("Sam Lead", "trainer")
    db.close()
    stored = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert token.encode() not in stored and b"Sam Lead" in stored


def test_roles_and_anonymous_asking() -> None:
    people = {"t": Principal("t", "trainer", "local"), "p": Principal("p", "practitioner", "local")}

    def verify(token: str) -> Principal:
        if token not in people:
            raise NotSignedIn("unknown")
        return people[token]

    open_access = Access(verify, anonymous_ask=True)
    assert open_access.require(None, "practitioner") is None
    assert open_access.require("Bearer t", "practitioner") == people["t"]  # a trainer may ask too
    assert open_access.require("Bearer t", "trainer") == people["t"]
    with pytest.raises(NotPermitted, match="needs the trainer role"):
        open_access.require("Bearer p", "trainer")
    with pytest.raises(NotSignedIn, match="needs the admin role"):
        open_access.require(None, "admin")
    with pytest.raises(NotSignedIn, match="Bearer"):
        open_access.require("Basic dXNlcjpwdw==", "practitioner")
    with pytest.raises(NotSignedIn):
        open_access.require("Bearer nobody", "practitioner")
    with pytest.raises(NotSignedIn, match="needs the practitioner role"):
        Access(verify, anonymous_ask=False).require(None, "practitioner")


def test_the_first_start_makes_an_admin_whose_token_only_its_owner_can_read(tmp_path: Path) -> None:
    from safeguide.cli import first_admin
    from safeguide.settings import Settings

    settings = Settings(data_dir=tmp_path)
    first_admin(settings)
    path = tmp_path / "first-admin-token.txt"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    token = path.read_text().strip()
    with settings.open_database() as db:
        assert UserStore(db).verify(token).role == "admin"
    path.unlink()
    first_admin(settings)  # there are users now: nothing is made, nothing written
    assert not path.exists()


# --------------------------------------------------------------------------------- OpenID Connect

ISSUER = "https://login.example.test/tenant/v2.0"
AUDIENCE = "api://safeguide"


class _Keys(http.server.BaseHTTPRequestHandler):
    jwks: ClassVar[dict[str, Any]] = {}

    def do_GET(self) -> None:
        body = json.dumps(_Keys.jwks).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def provider() -> Iterator[tuple[str, Any]]:
    """A JWKS endpoint on loopback with one RSA key, and that key for signing test tokens."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    _Keys.jwks = {"keys": [{**public, "kid": "k1", "use": "sig", "alg": "RS256"}]}
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Keys)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/keys", key
    server.shutdown()


def _token(key: Any, kid: str = "k1", **claims: Any) -> str:
    now = int(time.time())
    body = {"iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 600, "preferred_username": "a@council"}
    return jwt.encode({**body, **claims}, key, algorithm="RS256", headers={"kid": kid})


def _verifier(url: str, **kw: Any) -> OidcVerifier:
    roles = parse_role_map("Safeguide.Admin=admin, Safeguide.Trainer=trainer")
    return OidcVerifier(ISSUER, AUDIENCE, roles, jwks_url=url, **kw)


def test_oidc_tokens_are_checked_against_the_providers_keys(provider: tuple[str, Any]) -> None:
    url, key = provider
    verify = _verifier(url)
    assert verify(_token(key, roles=["Safeguide.Trainer"])) == Principal("a@council", "trainer", "oidc")
    assert verify(_token(key, roles=["Safeguide.Trainer", "safeguide.admin"])).role == "admin"  # the highest
    cases = {
        "expired": _token(key, exp=int(time.time()) - 120, roles=["Safeguide.Admin"]),
        "another audience": _token(key, aud="api://other", roles=["Safeguide.Admin"]),
        "another issuer": _token(key, iss="https://evil.example/v2.0", roles=["Safeguide.Admin"]),
        "no known role": _token(key, roles=["Finance.Reader"]),
        "not a token": "not.a.token",
    }
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cases["signed by another key"] = _token(other, roles=["Safeguide.Admin"])
    cases["unknown key id"] = _token(other, kid="k9", roles=["Safeguide.Admin"])
    for why, token in cases.items():
        with pytest.raises(NotSignedIn):
            verify(token)
            pytest.fail(f"accepted a token with {why}")
    with_default = _verifier(url, default_role="practitioner")
    assert with_default(_token(key, roles=["Finance.Reader"])).role == "practitioner"


def test_oidc_provider_unreachable_is_503_not_401(provider: tuple[str, Any]) -> None:
    from safeguide.models.server import free_loopback_port

    _, key = provider
    down = _verifier(f"http://127.0.0.1:{free_loopback_port()}/keys", timeout=2)
    with pytest.raises(SignInUnavailable):
        down(_token(key, roles=["Safeguide.Admin"]))


def test_a_bad_role_map_stops_start_up() -> None:
    from pydantic import ValidationError

    from safeguide.settings import Settings

    with pytest.raises(ValidationError, match="CLAIM_VALUE=ROLE"):
        Settings(oidc_roles="Safeguide.Admin=superuser")


# ---------------------------------------------------------------------------------- the real server

TRAINER_ROUTES = [
    ("POST", "/api/quiz", {"n": 2, "seed": 1}),
    ("GET", "/api/quiz/anything", None),
    ("DELETE", "/api/quiz/anything", None),
    ("PUT", "/api/quiz/anything/questions/q1", {"stem": "x"}),
    ("DELETE", "/api/quiz/anything/questions/q1", None),
    ("POST", "/api/quiz/anything/questions/q1/regenerate", None),
    ("GET", "/api/quiz/anything/export?format=gift", None),
]
ADMIN_ROUTES = [
    ("GET", "/api/audit", None),
    ("GET", "/api/feedback/export", None),
    ("GET", "/api/timescales/review", None),
    ("POST", "/api/timescales/review", {"statement": "icpc", "decision": "approved", "by": "someone"}),
]


@pytest.mark.slow
@pytest.mark.parametrize(("method", "path", "body"), TRAINER_ROUTES + ADMIN_ROUTES)
def test_trainer_and_admin_routes_refuse_anonymous_and_wrong_roles(
    server: str, signed_in: dict[str, dict[str, str]], method: str, path: str, body: Any
) -> None:
    needed = "admin" if (method, path, body) in ADMIN_ROUTES else "trainer"
    anonymous = httpx.request(method, server + path, json=body, timeout=60)
    assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"] == "Bearer", anonymous.text
    assert f"needs the {needed} role" in anonymous.json()["detail"]
    bad = httpx.request(method, server + path, json=body, headers={"Authorization": "Bearer sg_nope"})
    assert bad.status_code == 401
    lower = ["practitioner"] if needed == "trainer" else ["practitioner", "trainer"]
    for role in lower:
        r = httpx.request(method, server + path, json=body, headers=signed_in[role], timeout=60)
        assert r.status_code == 403 and f"needs the {needed} role" in r.json()["detail"], (role, r.text)
    allowed = httpx.request(method, server + path, json=body, headers=signed_in[needed], timeout=60)
    assert allowed.status_code not in (401, 403), allowed.text


@pytest.mark.slow
def test_a_refused_quiz_writes_nothing(server: str, corpus_index: Path, signed_in: dict[str, Any]) -> None:
    import sqlite3

    def quizzes() -> int:
        db = sqlite3.connect(corpus_index / "safeguide.sqlite3")
        try:
            return int(db.execute("SELECT count(*) FROM quizzes").fetchone()[0])
        finally:
            db.close()

    before = quizzes()
    for headers in ({}, signed_in["practitioner"]):
        r = httpx.post(server + "/api/quiz", json={"n": 2, "seed": 3}, headers=headers, timeout=60)
        assert r.status_code in (401, 403)
    assert quizzes() == before


@pytest.mark.slow
def test_practitioners_ask_without_signing_in_by_default(server: str, signed_in: dict[str, Any]) -> None:
    assert httpx.get(server + "/api/timescales").status_code == 200
    assert httpx.get(server + "/api/whoami").json() == {"signed_in": False, "anonymous_ask": True}
    me = httpx.get(server + "/api/whoami", headers=signed_in["trainer"]).json()
    assert me == {"signed_in": True, "name": "test-trainer", "role": "trainer", "via": "local"}


@pytest.mark.slow
def test_security_headers_on_every_kind_of_response(server: str) -> None:
    for path in ("/", "/review", "/static/app.js", "/api/status", "/api/quiz/x", "/nope"):
        r = httpx.get(server + path)
        csp = r.headers.get("content-security-policy", "")
        assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp, path
        assert "frame-ancestors 'none'" in csp, path
        assert r.headers["x-content-type-options"] == "nosniff", path
        assert r.headers["x-frame-options"] == "DENY", path


@pytest.mark.slow
def test_cors_is_closed_by_default(server: str) -> None:
    origin = {"Origin": "https://elsewhere.example"}
    r = httpx.get(server + "/api/status", headers=origin)
    assert "access-control-allow-origin" not in r.headers
    pre = httpx.options(server + "/api/ask", headers={**origin, "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in pre.headers


def test_rate_limit_per_client() -> None:
    from api.security import RateLimit, SecurityHeaders

    now = [1000.0]
    app = FastAPI()

    @app.get("/api/ping")
    def ping() -> dict[str, str]:
        return {"ok": "yes"}

    @app.get("/page")
    def page() -> dict[str, str]:
        return {"ok": "page"}

    limited = SecurityHeaders(RateLimit(app, per_minute=3, clock=lambda: now[0]))

    async def run() -> list[httpx.Response]:
        out = []
        for client in ("10.0.0.1", "10.0.0.1", "10.0.0.1", "10.0.0.1", "10.0.0.2"):
            transport = httpx.ASGITransport(app=limited, client=(client, 1234))
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
                out.append(await c.get("/api/ping"))
                now[0] += 1
        transport = httpx.ASGITransport(app=limited, client=("10.0.0.1", 1234))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            out.append(await c.get("/page"))  # pages are not limited
            now[0] += 60
            out.append(await c.get("/api/ping"))  # a minute on, allowed again
        return out

    import asyncio

    r = asyncio.run(run())
    assert [x.status_code for x in r] == [200, 200, 200, 429, 200, 200, 200]
    assert r[3].json()["error"] == "TooManyRequests" and 1 <= int(r[3].headers["retry-after"]) <= 60
    assert r[3].headers["x-content-type-options"] == "nosniff"  # the refusal carries the headers too


@pytest.mark.slow
def test_the_pages_csp_blocks_an_injected_inline_script(server: str) -> None:
    import shutil

    from playwright.sync_api import sync_playwright

    from tests.test_web import CHROMIUM

    if not shutil.which(CHROMIUM):
        pytest.fail("Chromium is missing: `make test` installs the Debian package `chromium`")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])
        page = browser.new_page()
        page.goto(server + "/")
        page.wait_for_selector("#question")
        violations = page.evaluate(
            """() => new Promise((done) => {
                const seen = [];
                document.addEventListener("securitypolicyviolation", (e) => seen.push(e.violatedDirective));
                const s = document.createElement("script");
                s.textContent = "window.__injected = true";
                document.body.append(s);
                setTimeout(() => done(seen), 300);
            })"""
        )
        assert page.evaluate("window.__injected === undefined")
        assert any(v.startswith("script-src") for v in violations), violations
        # the page's own scripts ran: the sign-in box says who you are
        assert "Not signed in" in page.locator("#signin-status").inner_text()
        browser.close()


# ------------------------------------------------------------------------------ audit and retention


def _age(db: Database, conversation: str, days: int) -> None:
    """Make a conversation look `days` old (its row and its messages)."""
    from datetime import UTC, datetime, timedelta

    from safeguide.database.tables import conversations, messages

    then = (datetime.now(UTC) - timedelta(days=days)).isoformat(timespec="seconds")
    with db.write() as conn:
        conn.execute(update(conversations).where(conversations.c.id == conversation).values(created=then))
        conn.execute(update(messages).where(messages.c.conversation_id == conversation).values(created=then))


def test_retention_deletes_old_conversations_with_their_feedback(database: Database) -> None:
    from datetime import UTC, datetime, timedelta

    from safeguide.chat.conversations import ConversationStore, UnknownConversation

    store = ConversationStore(database)
    old, new = store.ensure(None), store.ensure(None)
    for cid in (old, new):
        index = store.add_exchange(cid, "when is the ICPC due?", "within 15 working days", {})
        store.add_feedback(cid, index, "down", "too vague")
    _age(database, old, 40)
    assert store.purge_before(datetime.now(UTC) - timedelta(days=30)) == 1
    with pytest.raises(UnknownConversation):
        store.get(old)
    assert store.feedback(old) == [] and len(store.feedback(new)) == 1
    assert len(store.get(new)["messages"]) == 2
    rows = store.feedback_export()
    assert [(r["rating"], r["comment"], r["question"], r["answer"]) for r in rows] == [
        ("down", "too vague", "when is the ICPC due?", "within 15 working days")
    ]
    assert store.purge_before(datetime.now(UTC) - timedelta(days=30)) == 0


def test_audit_log(database: Database) -> None:
    from safeguide.access.audit import AuditLog

    log = AuditLog(database)
    log.record("sam", "trainer", "10.1.2.3", "quiz.create", "q1", {"questions": 5})
    log.record("ali", "admin", "10.1.2.4", "rule.rejected", "abc123")
    assert [e["action"] for e in log.entries()] == ["rule.rejected", "quiz.create"]  # newest first
    (only,) = log.entries(action="quiz.create")
    assert only["who"] == "sam" and only["source"] == "10.1.2.3" and only["detail"] == {"questions": 5}
    assert len(log.entries(limit=1)) == 1


@pytest.mark.slow
def test_changes_are_audited_with_who_and_where(server: str, signed_in: dict[str, dict[str, str]]) -> None:
    made = httpx.post(
        server + "/api/quiz", json={"n": 2, "seed": 11}, headers=signed_in["trainer"], timeout=60
    )
    assert made.status_code == 200, made.text
    quiz_id = made.json()["quiz_id"]
    gone = httpx.delete(f"{server}/api/quiz/{quiz_id}", headers=signed_in["trainer"])
    assert gone.status_code == 200
    entries = httpx.get(server + "/api/audit", headers=signed_in["admin"]).json()["entries"]
    mine = [(e["action"], e["who"], e["role"], e["source"]) for e in entries if e["target"] == quiz_id]
    assert mine == [
        ("quiz.delete", "test-trainer", "trainer", "127.0.0.1"),
        ("quiz.create", "test-trainer", "trainer", "127.0.0.1"),
    ]


@pytest.mark.slow
def test_feedback_export_for_review(server: str, signed_in: dict[str, dict[str, str]]) -> None:
    asked = httpx.post(
        server + "/api/ask", json={"question": "who chairs an initial conference?"}, timeout=60
    )
    body = asked.json()
    rated = {"conversation_id": body["conversation_id"], "message_index": body["message_index"]}
    r = httpx.post(server + "/api/feedback", json={**rated, "rating": "up", "comment": "clear, thanks"})
    assert r.status_code == 200, r.text
    csv_text = httpx.get(server + "/api/feedback/export", headers=signed_in["admin"]).text
    assert "clear, thanks" in csv_text and "who chairs an initial conference?" in csv_text
    rows = httpx.get(server + "/api/feedback/export?format=json", headers=signed_in["admin"]).json()[
        "feedback"
    ]
    assert any(row["comment"] == "clear, thanks" and row["rating"] == "up" for row in rows)


@pytest.mark.slow
def test_the_server_deletes_conversations_past_retention_at_start(tmp_path: Path, corpus_index: Path) -> None:
    import shutil

    from safeguide.chat.conversations import ConversationStore
    from tests.conftest import CORPUS
    from tests.servers import running_server

    data = tmp_path / "data"
    shutil.copytree(corpus_index / "index", data / "index")
    with Database.sqlite(data / "safeguide.sqlite3") as db:
        store = ConversationStore(db)
        old, recent = store.ensure(None), store.ensure(None)
        for cid in (old, recent):
            store.add_exchange(cid, "when is the ICPC due?", "within 15 working days", {})
        _age(db, old, 8)
    env = {
        "SAFEGUIDE_DATA_DIR": str(data),
        "SAFEGUIDE_CORPUS_DIR": str(CORPUS),
        "SAFEGUIDE_LLM_BACKEND": "extractive",
        "SAFEGUIDE_CONVERSATION_RETENTION_DAYS": "7",
    }
    with running_server(env, tmp_path / "server.log") as url:
        deadline = time.monotonic() + 20
        while httpx.get(f"{url}/api/conversations/{old}").status_code != 404 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert httpx.get(f"{url}/api/conversations/{old}").status_code == 404  # gone
        assert httpx.get(f"{url}/api/conversations/{recent}").status_code == 200
    assert "retention: deleted 1 conversation(s)" in (tmp_path / "server.log").read_text()


def test_cli_users_audit_and_purge(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from safeguide.cli import main
    from safeguide.settings import get_settings

    monkeypatch.setenv("SAFEGUIDE_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        added = runner.invoke(main, ["users", "add", "Sam Lead", "--role", "trainer"])
        assert added.exit_code == 0 and "Their token, shown only now: sg_" in added.output
        token = added.output.rsplit(" ", 1)[1].strip()
        with get_settings().open_database() as db:
            assert UserStore(db).verify(token).name == "Sam Lead"
        again = runner.invoke(main, ["users", "add", "Sam Lead", "--role", "trainer"])
        assert again.exit_code == 1 and "already exists" in again.output
        assert runner.invoke(main, ["users", "remove", "Sam Lead"]).exit_code == 0
        trail = runner.invoke(main, ["audit"]).output
        assert "user.remove  Sam Lead" in trail and "user.add  Sam Lead" in trail
        purged = runner.invoke(main, ["conversations", "purge", "--days", "3"])
        assert purged.exit_code == 0 and "deleted 0 conversation(s)" in purged.output
    finally:
        get_settings.cache_clear()


def _write_exchanges(url: str, n: int) -> int:
    """Record n answers while other threads keep the interpreter busy, as a loaded worker's do (so the
    writer is often paused between the statements of its transaction)."""
    from safeguide.chat.conversations import ConversationStore

    busy = threading.Event()

    def spin() -> None:
        while not busy.is_set():
            sum(range(1000))

    spinners = [threading.Thread(target=spin) for _ in range(3)]
    for t in spinners:
        t.start()
    db = Database(url)
    store = ConversationStore(db)
    try:
        cid = store.ensure(None)
        for i in range(n):
            store.add_exchange(cid, f"question {i}", f"answer {i}", {})
    finally:
        busy.set()
        db.close()
    return n


@pytest.mark.slow
def test_server_workers_can_write_the_same_database_at_once(database: Database) -> None:
    """Four processes (server workers) recording answers in one database together: none fails with
    "database is locked" (seen on SQLite under load before write transactions began IMMEDIATE), and on
    PostgreSQL none gets "duplicate key" (each answer's conversation row is locked first)."""
    import multiprocessing

    from safeguide.database.tables import messages

    url = database.url.render_as_string(hide_password=False)
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        done = pool.starmap(_write_exchanges, [(url, 200)] * 4)
    assert done == [200] * 4
    with database.read() as conn:
        assert len(conn.execute(select(messages.c.idx)).all()) == 4 * 200 * 2
