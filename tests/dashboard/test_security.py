"""Production security settings: headers on every response, a Content-Security-Policy that allows only
the site's own scripts and styles, cookies that only travel over HTTPS, and `check --deploy` clean."""

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from tests.factories import make_conversation, make_user

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "templates"


def production_env(**overrides) -> dict:
    """The environment a production deployment sets, and nothing of this shell's DJANGO_* variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update(DJANGO_DEBUG="0", DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
               DJANGO_ALLOWED_HOSTS="convoscope.example.com")
    env.update(overrides)
    return env


def run_manage(*args, env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


def csp_directives(response) -> dict[str, list[str]]:
    policy = response["Content-Security-Policy"]
    return {name: values for name, *values in (part.split() for part in policy.split(";") if part.strip())}


# --- check --deploy ------------------------------------------------------------------------------


def test_check_deploy_is_clean_with_production_settings():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=production_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
    assert "WARNINGS" not in result.stderr


def test_check_deploy_notices_when_the_site_is_not_served_over_https():
    """The test above is not vacuous: DJANGO_SECURE=0 (plain http) brings back the cookie warnings."""
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=production_env(DJANGO_SECURE="0"))
    assert result.returncode != 0
    assert "security.W012" in result.stderr  # SESSION_COOKIE_SECURE
    assert "security.W016" in result.stderr  # CSRF_COOKIE_SECURE
    assert "security.W004" in result.stderr  # HSTS


def settings_in(env: dict) -> dict:
    code = ("import json, django; django.setup(); from django.conf import settings as s; print(json.dumps({"
            "n: getattr(s, n) for n in ['DEBUG', 'SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE', "
            "'SECURE_HSTS_SECONDS', 'SECURE_SSL_REDIRECT']}))")
    env = {**env, "DJANGO_SETTINGS_MODULE": "convoscope.settings"}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=60, check=True)
    return json.loads(result.stdout)


def test_production_cookies_are_secure_and_make_run_still_works_over_http():
    production = settings_in(production_env())
    assert production == {"DEBUG": False, "SESSION_COOKIE_SECURE": True, "CSRF_COOKIE_SECURE": True,
                          "SECURE_HSTS_SECONDS": 31536000, "SECURE_SSL_REDIRECT": False}
    make_run = settings_in(production_env(DJANGO_DEBUG="1"))  # what `make run` sets
    assert make_run["SESSION_COOKIE_SECURE"] is False and make_run["SECURE_HSTS_SECONDS"] == 0
    plain_http = settings_in(production_env(DJANGO_SECURE="0"))
    assert plain_http["DEBUG"] is False and plain_http["SESSION_COOKIE_SECURE"] is False


# --- headers ---------------------------------------------------------------------------------------


@pytest.fixture
def pages(project):
    conversation = make_conversation(project, items=[{"role": "user", "content": "hello"}])
    return ["/", f"/conversations/{conversation.public_id}/", "/overview/", "/audit/", "/api-keys/",
            "/conversations/conv_missing/", "/accounts/login/"]


def test_every_console_page_carries_the_security_headers(admin_client_, pages):
    for path in pages:
        response = admin_client_.get(path)
        assert response.status_code in (200, 302, 404), path
        assert response["X-Frame-Options"] == "DENY", path
        assert response["X-Content-Type-Options"] == "nosniff", path
        assert response["Referrer-Policy"] == "same-origin", path
        assert "Content-Security-Policy" in response, path


def test_the_csp_allows_only_the_sites_own_scripts_and_styles(admin_client_):
    response = admin_client_.get("/")
    directives = csp_directives(response)
    assert directives["default-src"] == ["'self'"]
    assert directives["script-src"] == ["'self'"]
    assert directives["style-src"] == ["'self'"]
    assert directives["connect-src"] == ["'self'"]
    assert directives["object-src"] == ["'none'"]
    assert directives["base-uri"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["form-action"] == ["'self'"]
    policy = response["Content-Security-Policy"]
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy and "nonce-" not in policy


def test_api_responses_carry_the_headers_too(api):
    response = api.get("/v1/conversations")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "Content-Security-Policy" in response


def test_hsts_is_sent_on_https_requests_only(admin_client_):
    assert admin_client_.get("/", secure=True)["Strict-Transport-Security"] == \
        "max-age=31536000; includeSubDomains; preload"
    assert "Strict-Transport-Security" not in admin_client_.get("/")


def test_the_session_and_csrf_cookies_are_secure_and_http_only(client):
    make_user("vera", "viewer")
    client.get("/accounts/login/")
    response = client.post("/accounts/login/", {"username": "vera", "password": "pw-vera"}, secure=True)
    assert response.status_code == 302
    for name in ("sessionid", "csrftoken"):
        cookie = response.cookies[name]
        assert cookie["secure"] is True, name
        assert cookie["httponly"] is True, name
        assert cookie["samesite"] == "Lax", name


def test_a_plain_http_request_is_not_redirected_so_api_posts_stay_posts(api):
    response = api.post("/v1/conversations", {}, format="json")
    assert response.status_code == 200


# --- templates -------------------------------------------------------------------------------------

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)
INLINE_STYLE = re.compile(r"<style\b|\sstyle\s*=", re.IGNORECASE)
TEMPLATE_COMMENT = re.compile(r"\{#.*?#\}|\{% comment %\}.*?\{% endcomment %\}", re.DOTALL)


@pytest.mark.parametrize("template", sorted(TEMPLATES.rglob("*.html")), ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_templates_hold_no_inline_script_style_or_event_handler(template):
    """The CSP would block them: the console's behaviour lives in static/app.js, its looks in app.css."""
    source = TEMPLATE_COMMENT.sub("", template.read_text())
    assert not INLINE_SCRIPT.search(source)
    assert not EVENT_HANDLER.search(source)
    assert not INLINE_STYLE.search(source)
    assert "javascript:" not in source.lower()
    assert "hx-on" not in source  # htmx's inline handlers need eval, which the CSP forbids


def test_htmx_is_configured_not_to_inject_its_indicator_style(admin_client_):
    page = admin_client_.get("/").content.decode()
    config = re.search(r"""<meta name="htmx-config" content='([^']+)'>""", page).group(1)
    assert json.loads(config) == {"includeIndicatorStyles": False, "allowEval": False}
    css = (ROOT / "static" / "app.css").read_text()
    assert ".htmx-request .htmx-indicator" in css
