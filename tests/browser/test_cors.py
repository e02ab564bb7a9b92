"""The API from a web page on another origin, in a real browser (CONVOSCOPE_CORS_ORIGINS): what
`new OpenAI({baseURL, apiKey, dangerouslyAllowBrowser: true})` does from a page, with the headers
openai-node sends, preflights included. A page from an origin not in the list gets nothing."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conversations.models import Conversation
from tests.factories import make_api_key

pytestmark = pytest.mark.browser

# openai-node's buildHeaders and getPlatformHeaders, as they come out in a browser.
NODE_SDK_HEADERS = {
    "Accept": "application/json",
    "X-Stainless-Lang": "js",
    "X-Stainless-Package-Version": "6.0.0",
    "X-Stainless-OS": "Unknown",
    "X-Stainless-Arch": "unknown",
    "X-Stainless-Runtime": "browser:chrome",
    "X-Stainless-Runtime-Version": "140.0.0",
    "X-Stainless-Retry-Count": "0",
    "X-Stainless-Timeout": "600",
}

# Runs in the page: create, list, delete, and a refused key, as the SDK would send them.
CALLS = """async ({api, key, headers}) => {
    const call = async (method, path, body, token = key) => {
        const init = {method, headers: {...headers, Authorization: `Bearer ${token}`}};
        if (body) {
            init.headers["Content-Type"] = "application/json";
            init.body = JSON.stringify(body);
        }
        try {
            const response = await fetch(api + path, init);
            return {status: response.status, requestId: response.headers.get("x-request-id"),
                    body: await response.json()};
        } catch (error) {
            return {blocked: String(error)};
        }
    };
    const items = Array.from({length: 20}, (_, n) => ({role: "user", content: `message ${n} `.repeat(40)}));
    const created = await call("POST", "/v1/conversations", {items, metadata: {from: "browser"}});
    if (created.blocked) return {created};
    const id = created.body.id;
    return {
        created,
        listed: await call("GET", `/v1/conversations/${id}/items?limit=20&order=asc`),
        refused: await call("GET", "/v1/conversations", null, "cvs_wrong"),
        deleted: await call("DELETE", `/v1/conversations/${id}`),
    };
}"""


class AppPage(BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"<!doctype html><title>app</title><p>a front end on its own origin</p>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def app_origin():
    """A front end's own server (another origin than the live server's, on loopback like it)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), AppPage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_a_page_from_an_allowed_origin_uses_the_api_like_the_sdk(console, live_server, project, settings, app_origin):
    settings.CORS_ALLOWED_ORIGINS = [app_origin]
    secret = make_api_key(project)[1]
    console.page.goto(app_origin)
    answers = {}
    console.page.on("response", lambda response: answers.setdefault(
        (response.request.method, response.url.split("?")[0].rsplit("/", 1)[-1]), response.headers))
    result = console.page.evaluate(CALLS, {"api": live_server.url, "key": secret, "headers": NODE_SDK_HEADERS})

    created, listed, refused, deleted = result["created"], result["listed"], result["refused"], result["deleted"]
    assert created["status"] == 200 and created["body"]["metadata"] == {"from": "browser"}
    assert created["requestId"].startswith("req_")  # exposed: the SDK's `_request_id`
    assert listed["status"] == 200
    assert [item["content"][0]["text"] for item in listed["body"]["data"]] == [
        f"message {n} " * 40 for n in range(20)]
    assert refused["status"] == 401 and refused["body"]["error"]["code"] == "invalid_api_key"
    assert deleted["status"] == 200 and deleted["body"]["deleted"] is True
    assert not Conversation.objects.exists()
    # Each call carried Authorization and the stainless headers, so the browser sent it only after a
    # preflight allowed them. The large list came gzipped.
    assert answers[("GET", "items")]["content-encoding"] == "gzip"
    # Chromium logs the 401 as a failed load; that one is expected.
    expected = [e for e in console.errors if "status of 401" in e]
    assert len(expected) == 1
    console.errors.remove(expected[0])


def test_a_page_from_another_origin_is_refused_before_anything_is_sent(console, live_server, project, settings,
                                                                       app_origin):
    settings.CORS_ALLOWED_ORIGINS = ["http://127.0.0.1:5173"]
    secret = make_api_key(project)[1]
    console.page.goto(app_origin)
    result = console.page.evaluate(CALLS, {"api": live_server.url, "key": secret, "headers": NODE_SDK_HEADERS})
    assert "blocked" in result["created"]
    assert not Conversation.objects.exists()  # the preflight failed, so the POST never left the browser
    # The browser reports the refusal; that report is the expected outcome here.
    blocked = [e for e in console.errors if "CORS policy" in e or "net::ERR_FAILED" in e]
    assert blocked
    console.errors[:] = [e for e in console.errors if e not in blocked]
