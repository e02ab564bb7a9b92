"""`make serve` (nginx in front of gunicorn, convoscope/serve.py) against slow and careless clients
(issue 9), driven over real sockets against the real processes with a scratch database.

- 200 abusive connections (idle, headers trickled, body trickled, body shorter than its
  Content-Length) held open for 60 s: normal requests keep answering, p99 under 1 s.
- A body shorter than its Content-Length is never processed: the connection is closed once the
  client goes quiet, nothing stored -- also when the client hangs up early, and with gunicorn
  alone (400 `incomplete_body`).
- A chunked upload reaches Django whole.
- What nginx refuses itself answers in OpenAI's error shape under /v1.
- Django's gzip and CORS answers (issue 10) reach the client through nginx as Django sent them.
"""

import json
import os
import shutil
import socket
import subprocess
import time

import httpx2 as httpx
import pytest

from .served import WAIT_SECONDS, Served, head_for, read_response, slow_client_attack

NGINX_MISSING = shutil.which("nginx") is None and not os.path.exists("/usr/sbin/nginx")


@pytest.fixture(scope="module", autouse=True)
def _nginx():
    """Skipped without nginx, unless CONVOSCOPE_REQUIRE_NGINX is set (CI sets it): then they fail."""
    if NGINX_MISSING:
        reason = "nginx is not installed (apt-get install nginx-light; .ci/run does)"
        if os.environ.get("CONVOSCOPE_REQUIRE_NGINX"):
            pytest.fail(f"CONVOSCOPE_REQUIRE_NGINX is set but {reason}", pytrace=False)
        pytest.skip(reason)

APP_ORIGIN = "https://app.example.com"
CLIENT_TIMEOUT = 2  # seconds of silence before nginx gives up on a request (10 in production)
ATTACK_SECONDS = float(os.environ.get("CONVOSCOPE_SLOW_CLIENT_SECONDS", 60))


@pytest.fixture(scope="module")
def database(scratch_database):
    return scratch_database


@pytest.fixture(scope="module")
def served(database):
    server = Served(database, CONVOSCOPE_CLIENT_TIMEOUT=str(CLIENT_TIMEOUT), CONVOSCOPE_CORS_ORIGINS=APP_ORIGIN)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def gunicorn_alone(database):
    server = Served(database, proxy=False)
    yield server
    server.stop()


def error_of(raw: bytes) -> tuple[int, dict]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    assert b"content-type: application/json" in head.lower(), raw
    if b"transfer-encoding: chunked" in head.lower():  # gunicorn's way: one chunk, then the last
        size, _, rest = body.partition(b"\r\n")
        body = rest[:int(size, 16)]
    return status, json.loads(body)["error"]


# -- slow clients ------------------------------------------------------------------------------------

def test_200_slow_connections_for_60_seconds_leave_normal_requests_fast(database):
    server = Served(database)  # the production defaults: 10 s client timeout
    try:
        figures = slow_client_attack(server, seconds=ATTACK_SECONDS, connections=200, marker="attack")
    finally:
        stored = server.stored("attack")
        server.stop()
    print(figures.summary())
    assert figures.failures == []
    assert len(figures.latencies) > ATTACK_SECONDS * 10  # well over ten answers a second throughout
    assert figures.p(0.99) < 1.0
    # every abusive kind really held its connections open for the whole run
    assert set(figures.abusive_connections) == {"idle", "slow_headers", "slow_body", "truncated_body"}
    assert stored == 0  # no truncated or trickled body was processed


# -- bodies shorter than their Content-Length -------------------------------------------------------

def test_a_body_shorter_than_its_content_length_times_out_and_stores_nothing(served):
    """nginx closes the connection once the body stops arriving (it logs a 408 but sends none, by
    design: nginx/nginx#489); the truncated request never reaches Django."""
    body = json.dumps({"metadata": {"marker": "short-timeout"}}).encode()
    with served.connect() as conn:
        conn.sendall(head_for("/v1/conversations", served.secret, content_length=len(body) + 50)
                     .replace("\n", "\r\n").encode() + b"\r\n" + body)
        started = time.monotonic()
        raw = read_response(conn)
        waited = time.monotonic() - started
    assert raw == b""
    assert CLIENT_TIMEOUT - 0.5 < waited < CLIENT_TIMEOUT + 5
    assert served.stored("short-timeout") == 0


@pytest.mark.parametrize("server", ["served", "gunicorn_alone"])
def test_a_client_that_hangs_up_mid_body_stores_nothing(server, request):
    target = request.getfixturevalue(server)
    body = json.dumps({"metadata": {"marker": f"short-hangup-{server}"}}).encode()
    with target.connect() as conn:
        conn.sendall(head_for("/v1/conversations", target.secret, content_length=len(body) + 50)
                     .replace("\n", "\r\n").encode() + b"\r\n" + body)
        conn.shutdown(socket.SHUT_WR)  # the body ends here, 50 bytes early
        raw = read_response(conn)
    if raw:  # nginx just drops such a request; gunicorn alone hands it to Django, which refuses it
        status, error = error_of(raw)
        assert status == 400
        assert error["code"] == "incomplete_body"
    assert server == "gunicorn_alone" or raw == b""
    time.sleep(0.5)
    assert target.stored(f"short-hangup-{server}") == 0


# -- chunked uploads -------------------------------------------------------------------------------

BODY = {"items": [{"role": "user", "content": "keep me"}], "metadata": {"marker": "chunked"}}


def test_a_chunked_upload_reaches_django_whole(served):
    data = json.dumps(BODY).encode()

    def chunks():
        yield data[:10]
        yield data[10:]

    with served.client() as client:
        response = client.post("/v1/conversations", content=chunks(), headers={"Content-Type": "application/json"})
        assert response.request.headers["transfer-encoding"] == "chunked"
        assert response.status_code == 200, response.text
        items = client.get(f"/v1/conversations/{response.json()['id']}/items").json()["data"]
    assert response.json()["metadata"] == {"marker": "chunked"}
    assert [item["content"][0]["text"] for item in items] == ["keep me"]


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_with_transfer_encoding_chunked_is_stored(served):
    body = {**BODY, "metadata": {"marker": "chunked-curl"}}
    result = subprocess.run(
        ["curl", "-s", "-H", "Transfer-Encoding: chunked", "-H", f"Authorization: Bearer {served.secret}",
         "-H", "Content-Type: application/json", "--data-binary", json.dumps(body),
         f"{served.base}/v1/conversations"],
        capture_output=True, text=True, timeout=WAIT_SECONDS, check=True,
    )
    assert json.loads(result.stdout)["metadata"] == {"marker": "chunked-curl"}
    assert served.stored("chunked-curl") == 1


# -- browsers and bandwidth -----------------------------------------------------------------------

def test_gzip_and_cors_pass_through_nginx(served):
    with served.client() as client:
        client.headers.update({"Accept-Encoding": "gzip", "Origin": APP_ORIGIN})
        items = [{"role": "user", "content": f"{n} " + "where is my order? " * 40} for n in range(20)]
        created = client.post("/v1/conversations", json={"items": items, "metadata": {"marker": "gzip"}})
        assert created.status_code == 200, created.text
        listed = client.get(f"/v1/conversations/{created.json()['id']}/items", params={"order": "asc"})
        console = client.get("/accounts/login/")
    preflight = httpx.options(served.base + "/v1/conversations", headers={  # as a browser sends it: no key
        "Origin": APP_ORIGIN, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type, x-stainless-lang"})
    assert listed.headers["content-encoding"] == "gzip"
    assert "accept-encoding" in listed.headers["vary"].lower()
    assert listed.num_bytes_downloaded < len(listed.content) / 5
    assert [item["content"][0]["text"] for item in listed.json()["data"]] == [item["content"] for item in items]
    assert listed.headers["access-control-allow-origin"] == APP_ORIGIN
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == APP_ORIGIN
    assert "x-stainless-lang" in preflight.headers["access-control-allow-headers"]
    assert console.status_code == 200
    assert "content-encoding" not in console.headers
    assert "access-control-allow-origin" not in console.headers


# -- what nginx refuses itself -------------------------------------------------------------------

@pytest.mark.parametrize(("head", "status", "code"), [
    (f"GET /v1/conversations/conv_{'a' * 9000} HTTP/1.1\nHost: 127.0.0.1\n", 414, "request_line_too_long"),
    (f"GET /v1/conversations HTTP/1.1\nHost: 127.0.0.1\nX-Big: {'a' * 9000}\n", 400, "invalid_request"),
    ("GET /v1/conversations HTTP/1.1\nHost: 127.0.0.1\nContent-Length: x\n", 400, "invalid_request"),
    ("GET /v1/conversations HTTP/9.9\nHost: 127.0.0.1\n", 505, None),
    ("POST /v1/conversations HTTP/1.1\nHost: 127.0.0.1\nContent-Length: 33554433\n", 413, "request_too_large"),
    ("POST /v1/conversations HTTP/1.1\nHost: 127.0.0.1\nTransfer-Encoding: chunked\n", None, None),
])
def test_requests_refused_before_django_answer_in_the_openai_shape(served, head, status, code):
    if status is None:  # a chunked body that is not valid chunked encoding
        raw = served.raw_request(head, b"zz\r\n{}\r\n0\r\n\r\n")
        status, code = 400, "invalid_request"
    else:
        raw = served.raw_request(head)
    if code is None:
        assert raw.startswith(f"HTTP/1.1 {status}".encode())
        return
    answered, error = error_of(raw)
    assert answered == status
    assert error["code"] == code
    assert error["type"] == "invalid_request_error"
    assert error["message"]


def test_an_encoded_slash_in_an_id_reaches_no_other_route_through_nginx(served):
    """nginx passes the request line on as the client wrote it, so Django still sees the %2F."""
    with served.client() as client:
        conversation = client.post("/v1/conversations", json={"items": [{"role": "user", "content": "hi"}],
                                                               "metadata": {"marker": "slash"}}).json()
        item_id = client.get(f"/v1/conversations/{conversation['id']}/items").json()["data"][0]["id"]
        response = client.delete(f"/v1/conversations/{conversation['id']}%2Fitems%2F{item_id}")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "unknown_url"
        assert client.get(f"/v1/conversations/{conversation['id']}/items/{item_id}").status_code == 200


def test_the_console_gets_a_text_page_for_the_same_refusals(served):
    raw = served.raw_request(f"GET /accounts/login/ HTTP/1.1\nHost: 127.0.0.1\nX-Big: {'a' * 9000}\n")
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400")
    assert b"content-type: text/plain" in head.lower()
    assert body.startswith(b"400 The request could not be read")


def test_when_gunicorn_dies_the_pair_stops_with_a_failure_status(database):
    server = Served(database)
    try:
        gunicorn = next(child for child in _children(server.process.pid) if b"gunicorn" in _cmdline(child))
        os.kill(gunicorn, 9)
        deadline = time.monotonic() + WAIT_SECONDS
        while server.process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        # the pair stops together, with a failure status a supervisor acts on
        assert server.process.returncode not in (None, 0)
    finally:
        server.stop()


def _children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as handle:
        return [int(child) for child in handle.read().split()]


def _cmdline(pid: int) -> bytes:
    with open(f"/proc/{pid}/cmdline", "rb") as handle:
        return handle.read()


# -- who the client is ----------------------------------------------------------------------------

def test_behind_nginx_the_login_throttle_counts_the_real_address_not_a_forged_header(database):
    """nginx passes on the address it saw and make serve tells Django to read it (gunicorn itself
    sees only a Unix socket): five failures under five forged addresses count as one address."""
    database.manage("shell", "-c", "from django.contrib.auth.models import User; "
                    "User.objects.filter(username='agent').exists() or "
                    "User.objects.create_user('agent', password='right-password-123')")
    server = Served(database, WEB_CONCURRENCY="1")  # one process: the throttle's counts are per process here
    try:
        with httpx.Client(base_url=server.base, timeout=WAIT_SECONDS) as browser:
            def login(password: str, forged: str) -> httpx.Response:
                browser.get("/accounts/login/")
                return browser.post("/accounts/login/", headers={"X-Forwarded-For": forged},
                                    data={"username": "agent", "password": password,
                                          "csrfmiddlewaretoken": browser.cookies["csrftoken"]})

            for n in range(4):
                assert login("wrong", f"203.0.113.{n}").status_code == 200  # the form again, with an error
            assert login("wrong", "203.0.113.4").status_code == 429  # the fifth: the limit is reached
            refused = login("right-password-123", "198.51.100.7")
    finally:
        server.stop()
    assert refused.status_code == 429
    assert "from your address" in refused.text
