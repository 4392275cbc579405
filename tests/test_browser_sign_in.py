"""Single sign-on from the page: "Sign in with your organisation" runs the authorization code flow with
PKCE against a real OpenID Connect provider served on loopback (discovery, an authorization endpoint that
signs the user in at once, a token endpoint that checks the PKCE verifier, a key set), in Chromium, with
the real app under uvicorn and its real CSP. The provider is ours; what it implements is the protocol."""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import secrets
import shutil
import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.conftest import CORPUS
from tests.servers import running_server

CLIENT_ID = "safeguide-page"


class _Provider(http.server.BaseHTTPRequestHandler):
    base: ClassVar[str] = ""
    key: ClassVar[Any] = None
    jwks: ClassVar[dict[str, Any]] = {}
    codes: ClassVar[dict[str, dict[str, str]]] = {}
    exchanged: ClassVar[list[str]] = []

    def _send(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Access-Control-Allow-Origin", "*")  # the page calls the token endpoint itself
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        if url.path == "/.well-known/openid-configuration":
            self._send(
                200,
                {
                    "issuer": self.base,
                    "authorization_endpoint": f"{self.base}/authorize",
                    "token_endpoint": f"{self.base}/token",
                    "jwks_uri": f"{self.base}/keys",
                },
            )
        elif url.path == "/keys":
            self._send(200, self.jwks)
        elif url.path == "/authorize":  # the user signs in at once
            ok = (query.get("client_id"), query.get("response_type"), query.get("code_challenge_method"))
            if ok != (CLIENT_ID, "code", "S256") or not query.get("code_challenge"):
                self._send(400, {"error": "invalid_request"})
                return
            code = secrets.token_urlsafe(16)
            self.codes[code] = query
            back = f"{query['redirect_uri']}?code={code}&state={urllib.parse.quote(query['state'])}"
            self.send_response(302)
            self.send_header("Location", back)
            self.end_headers()
        else:
            self._send(404, {"error": "not_found"})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
        asked = self.codes.pop(form.get("code", ""), None)  # a code works once
        if asked is None or form.get("redirect_uri") != asked["redirect_uri"]:
            self._send(400, {"error": "invalid_grant", "error_description": "unknown or used code"})
            return
        digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
        if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != asked["code_challenge"]:
            self._send(400, {"error": "invalid_grant", "error_description": "PKCE verifier does not match"})
            return
        now = int(time.time())
        claims = {
            "iss": self.base,
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 600,
            "nonce": asked["nonce"],
            "preferred_username": "sam@council.example",
            "roles": ["Safeguide.Trainer"],
        }
        token = jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": "k1"})
        self.exchanged.append(token)
        self._send(200, {"id_token": token, "token_type": "Bearer", "expires_in": 600})

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def provider() -> Iterator[str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Provider)
    _Provider.base = f"http://127.0.0.1:{server.server_address[1]}"
    _Provider.key = key
    _Provider.jwks = {"keys": [{**public, "kid": "k1", "use": "sig", "alg": "RS256"}]}
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield _Provider.base
    server.shutdown()


@pytest.mark.slow
def test_sign_in_with_the_councils_provider_from_the_page(
    provider: str, corpus_index: Path, tmp_path: Path, output_dir: Path
) -> None:
    from playwright.sync_api import sync_playwright

    from tests.test_web import CHROMIUM

    if not shutil.which(CHROMIUM):
        pytest.fail("Chromium is missing: `make test` installs the Debian package `chromium`")
    data = tmp_path / "data"
    shutil.copytree(corpus_index / "index", data / "index")
    env = {
        "SAFEGUIDE_DATA_DIR": str(data),
        "SAFEGUIDE_CORPUS_DIR": str(CORPUS),
        "SAFEGUIDE_LLM_BACKEND": "extractive",
        "SAFEGUIDE_AUTH": "oidc",
        "SAFEGUIDE_OIDC_ISSUER": provider,
        "SAFEGUIDE_OIDC_AUDIENCE": CLIENT_ID,
        "SAFEGUIDE_OIDC_CLIENT_ID": CLIENT_ID,
    }
    with running_server(env, tmp_path / "server.log") as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])
        page = browser.new_page()
        blocked: list[str] = []
        page.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)
        page.goto(url + "/")
        status = page.locator("#signin-status")
        page.get_by_role("button", name="Sign in with your organisation").click()
        page.get_by_text("Signed in as sam@council.example (trainer).").wait_for(timeout=20_000)
        assert page.url == url + "/"  # the code is gone from the address bar
        token = page.evaluate("() => sessionStorage.getItem('safeguide-token')")
        assert token == _Provider.exchanged[-1]  # the ID token the provider issued, checked by the server
        page.screenshot(path=str(output_dir / "web-sso-signed-in.png"))
        # A reply this tab did not ask for (a forged or replayed redirect) signs nobody in.
        page.get_by_role("button", name="Sign out").click()
        page.goto(url + "/?code=stolen&state=not-mine")
        status.filter(has_text="does not match a sign-in started here").wait_for(timeout=10_000)
        assert page.evaluate("() => sessionStorage.getItem('safeguide-token')") is None
        assert blocked == []
        browser.close()


def test_without_a_client_id_the_page_takes_pasted_tokens_only(provider: str) -> None:
    from api.security import browser_sign_in, content_security_policy
    from safeguide.access import Access
    from safeguide.settings import Settings

    base = {"auth": "oidc", "oidc_issuer": provider, "oidc_audience": CLIENT_ID}
    assert browser_sign_in(Settings(**base), Access(lambda t: None)) == {"mode": "oidc", "browser": False}  # type: ignore[arg-type,return-value]
    assert "connect-src 'self';" in content_security_policy(Settings(**base))
    with_page = Settings(**base, oidc_client_id=CLIENT_ID)
    assert f"connect-src 'self' {provider};" in content_security_policy(with_page)
    assert browser_sign_in(Settings(), Access(lambda t: None)) == {"mode": "local"}  # type: ignore[arg-type,return-value]
