"""Rate limiting per API key (api/throttling.py): CONVOSCOPE_API_RATE_LIMIT, 429 in OpenAI's
error shape with `retry-after`, and one budget shared by every server process through Redis."""

import json
import math
import os
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
import redis
from django.core.exceptions import ImproperlyConfigured
from rest_framework.test import APIClient

from api.throttling import ApiKeyRateThrottle
from conversations.models import Conversation
from convoscope import settings as settings_module
from tests.factories import make_api_key
from tests.servers import Server

ROOT = Path(__file__).resolve().parents[2]
# Database 15: out of the way of a development server's data in database 0.
TEST_REDIS_URL = os.environ.get("CONVOSCOPE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
def three_a_minute(settings):
    settings.CONVOSCOPE_API_RATE_LIMIT = "3/minute"


A_MINUTE_START = 60 * 16_667.0  # a clock time at which a minute window starts


@pytest.fixture
def clock(monkeypatch):
    """The throttle's clock, moved by hand: clock[0] is now, in seconds (the start of a minute)."""
    now = [A_MINUTE_START]
    monkeypatch.setattr(ApiKeyRateThrottle, "timer", staticmethod(lambda: now[0]))
    return now


def use_up(client, count=3):
    for _ in range(count):
        assert client.get("/v1/conversations").status_code == 200


def test_over_the_limit_is_a_429_in_the_openai_error_shape(api, project, three_a_minute):
    use_up(api)
    response = api.get("/v1/conversations")
    assert response.status_code == 429
    assert response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert (error["type"], error["param"], error["code"]) == ("requests", None, "rate_limit_exceeded")
    assert "Rate limit reached" in error["message"]
    assert 1 <= int(response["retry-after"]) <= 60
    assert response["x-request-id"].startswith("req_")


def test_retry_after_says_when_the_window_ends_and_then_the_budget_is_whole_again(api, project, three_a_minute,
                                                                                   clock):
    for _ in range(3):
        assert api.get("/v1/conversations").status_code == 200
        clock[0] += 10
    response = api.get("/v1/conversations")  # 30 s into the minute
    assert (response.status_code, response["retry-after"]) == (429, "30")
    clock[0] += 29.5
    assert api.get("/v1/conversations")["retry-after"] == "1"  # rounded up: never too early
    clock[0] += 0.5
    use_up(api, 3)  # the next minute: three again
    assert api.get("/v1/conversations").status_code == 429


def test_refused_requests_do_not_carry_over_into_the_next_window(api, project, three_a_minute, clock):
    use_up(api)
    for _ in range(10):
        assert api.get("/v1/conversations").status_code == 429
    clock[0] += 60
    use_up(api)


def test_a_throttled_write_writes_nothing(api, project, three_a_minute):
    use_up(api)
    response = api.post("/v1/conversations", {"metadata": {"k": "v"}}, format="json")
    assert response.status_code == 429
    assert Conversation.objects.count() == 0


def test_every_call_is_counted_and_throttled(api, project, three_a_minute):
    conversation_id = api.post("/v1/conversations", {}, format="json").json()["id"]
    api.get(f"/v1/conversations/{conversation_id}/items")
    api.post(f"/v1/conversations/{conversation_id}/items", {"items": [{"role": "user", "content": "x"}]},
             format="json")
    assert api.get(f"/v1/conversations/{conversation_id}").status_code == 429
    assert api.delete(f"/v1/conversations/{conversation_id}").status_code == 429


def test_another_key_has_its_own_budget(api, other_api, project, three_a_minute):
    use_up(api)
    assert api.get("/v1/conversations").status_code == 429
    assert other_api.get("/v1/conversations").status_code == 200
    second_key_of_the_same_project = APIClient(HTTP_AUTHORIZATION=f"Bearer {make_api_key(project, 'two')[1]}")
    assert second_key_of_the_same_project.get("/v1/conversations").status_code == 200


def test_requests_with_a_wrong_key_count_against_no_one(api, project, three_a_minute):
    wrong = APIClient(HTTP_AUTHORIZATION="Bearer cvs_wrong_wrong_wrong")
    for _ in range(5):
        assert wrong.get("/v1/conversations").status_code == 401
    use_up(api)


def test_the_limit_can_be_turned_off(api, project, settings):
    settings.CONVOSCOPE_API_RATE_LIMIT = None
    use_up(api, 30)


def test_the_schema_is_not_rate_limited(db, three_a_minute):
    for _ in range(5):
        assert APIClient().get("/api/schema/").status_code == 200


def test_an_unreachable_cache_lets_requests_through(api, project, settings):
    settings.CONVOSCOPE_API_RATE_LIMIT = "1/minute"
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": "redis://127.0.0.1:1/0"}}  # nothing listens on port 1
    use_up(api, 3)


@pytest.mark.parametrize(("raw", "rate"), [
    ("", "1200/minute"), ("off", None), ("0", None), ("OFF", None), ("600/minute", "600/minute"),
    ("10/s", "10/s"), (" 5/hour ", "5/hour"), ("1000/day", "1000/day"),
])
def test_the_rate_setting_is_parsed_strictly(monkeypatch, raw, rate):
    monkeypatch.setenv("CONVOSCOPE_API_RATE_LIMIT", raw)
    assert settings_module.env_rate("CONVOSCOPE_API_RATE_LIMIT", "1200/minute") == rate


@pytest.mark.parametrize("raw", ["600", "600/week", "0/minute", "-5/minute", "lots/minute", "600/minute/2"])
def test_a_malformed_rate_stops_start_up(monkeypatch, raw):
    monkeypatch.setenv("CONVOSCOPE_API_RATE_LIMIT", raw)
    with pytest.raises(ImproperlyConfigured):
        settings_module.env_rate("CONVOSCOPE_API_RATE_LIMIT", "1200/minute")


# --- Redis ----------------------------------------------------------------------------------------


@pytest.fixture
def redis_client():
    """A real Redis (skipped if none is running, unless CONVOSCOPE_REQUIRE_REDIS is set, as in CI)."""
    client = redis.Redis.from_url(TEST_REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError as exc:
        if os.environ.get("CONVOSCOPE_REQUIRE_REDIS"):
            pytest.fail(f"CONVOSCOPE_REQUIRE_REDIS is set but Redis at {TEST_REDIS_URL} is unreachable: {exc}")
        pytest.skip(f"no Redis at {TEST_REDIS_URL}: {exc}")
    return client


@pytest.fixture
def redis_cache(settings, redis_client):
    """The cache settings.py builds from REDIS_URL, on a real Redis."""
    client = redis_client
    prefix = f"convoscope-test-{uuid.uuid4().hex}"  # nobody else sharing this Redis counts with these keys
    env = {**os.environ, "REDIS_URL": TEST_REDIS_URL, "REDIS_KEY_PREFIX": prefix}
    settings.CACHES = json.loads(subprocess.run(
        [sys.executable, "-c", "import json; from convoscope import settings; print(json.dumps(settings.CACHES))"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True, timeout=60,
    ).stdout)
    assert settings.CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
    assert settings.CACHES["default"]["KEY_PREFIX"] == prefix
    yield client
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)


ANOTHER_SERVER_PROCESS = """
import json, sys
import django
django.setup()
from types import SimpleNamespace
from api.throttling import ApiKeyRateThrottle
ApiKeyRateThrottle.timer = staticmethod(lambda: float(sys.argv[2]))  # the same minute as the test's
request = SimpleNamespace(auth=SimpleNamespace(pk=int(sys.argv[1])))
print(json.dumps([ApiKeyRateThrottle().allow_request(request, None) for _ in range(3)]))
"""


def test_the_limit_is_shared_by_server_processes_through_redis(api, api_key, settings, redis_cache, clock):
    settings.CONVOSCOPE_API_RATE_LIMIT = "4/minute"
    use_up(api, 2)  # this process: 2 of the 4
    env = {**os.environ, "REDIS_URL": TEST_REDIS_URL, "REDIS_KEY_PREFIX": settings.CACHES["default"]["KEY_PREFIX"],
           "CONVOSCOPE_API_RATE_LIMIT": "4/minute", "DJANGO_SETTINGS_MODULE": "convoscope.settings"}
    result = subprocess.run([sys.executable, "-c", ANOTHER_SERVER_PROCESS, str(api_key[0].pk), str(clock[0])],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [True, True, False]  # the other process: the last 2, then refused
    assert api.get("/v1/conversations").status_code == 429  # and this process sees its requests too


def test_a_counter_that_expired_under_the_increment_is_recreated_with_an_expiry(redis_cache, monkeypatch):
    """Django's RedisCache.incr is EXISTS then INCR: if the counter expires in between, INCR recreates
    it without an expiry. The count goes on from 1 and the counter still expires."""
    from django.core.cache import cache

    from api import throttling

    real_exists = redis.Redis.exists

    def exists_then_expires(self, *names):
        found = real_exists(self, *names)
        redis_cache.delete(*names)  # the counter expires between EXISTS and INCR
        return found

    monkeypatch.setattr(redis.Redis, "exists", exists_then_expires)
    assert throttling.count_request("ratelimit:test", 61) == 1
    monkeypatch.undo()
    raw_key = cache.make_key("ratelimit:test")
    assert 0 < redis_cache.ttl(raw_key) <= 61
    assert throttling.count_request("ratelimit:test", 61) == 2


# --- two real servers, one budget ---------------------------------------------------------------------

LIMIT = 20  # per second
CLIENT_THREADS = 32
HAMMER_SECONDS = 3.0


def hammer(servers: list[Server], key: str) -> tuple[list[tuple[int, int]], float, float]:
    """CLIENT_THREADS threads send GET /v1/conversations with one key, spread over the servers, for
    HAMMER_SECONDS. Returns (server index, status) per response and the wall-clock span they fit in."""
    results, lock = [], threading.Lock()
    deadline = time.monotonic() + HAMMER_SECONDS

    def client(n: int) -> None:
        server = n % len(servers)
        while time.monotonic() < deadline:
            status = servers[server].call("GET", "/v1/conversations?limit=1", key=key).status
            with lock:
                results.append((server, status))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENT_THREADS)]
    started = time.time()  # the servers run on this machine: their clock is this clock
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, started, time.time()


def test_two_server_processes_sharing_redis_let_at_most_the_limit_through_per_window(tmp_path, redis_client):
    """The limit holds under concurrency across processes: every request is counted with one atomic
    INCR, so no window (a clock second, for N/second) lets more than the limit through: slack 0."""
    database_url = f"sqlite:///{tmp_path}/live.sqlite3"
    manage_env = {**{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CONVOSCOPE_"))},
                  "DATABASE_URL": database_url}
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], env=manage_env, cwd=ROOT, check=True, timeout=300)
    key = subprocess.run([*manage, "create_api_key", "--project", "acme"], env=manage_env, cwd=ROOT, check=True,
                         capture_output=True, text=True, timeout=60).stdout.splitlines()[-1]
    prefix = f"convoscope-test-{uuid.uuid4().hex}"  # nobody else sharing this Redis counts with these keys
    env = {"REDIS_URL": TEST_REDIS_URL, "REDIS_KEY_PREFIX": prefix, "CONVOSCOPE_API_RATE_LIMIT": f"{LIMIT}/second"}
    servers = []
    try:
        servers = [Server(database_url, threads=8, env=env) for _ in range(2)]
        results, started, ended = hammer(servers, key)
    finally:
        for server in servers:
            server.stop()
        for stale in redis_client.scan_iter(f"{prefix}:*"):
            redis_client.delete(stale)

    by_status = Counter(status for _, status in results)
    windows = math.floor(ended) - math.floor(started) + 1  # every clock second the requests touched
    print(f"{len(results)} requests in {ended - started:.1f} s over {windows} windows: {dict(by_status)}")
    assert set(by_status) == {200, 429}, by_status
    assert by_status[200] <= LIMIT * windows  # before: 85 a second got through (a read, then a write)
    assert by_status[200] >= LIMIT  # and the servers did serve: a full window's worth at least
    for server in range(2):  # both processes answered both ways: they count against one budget
        assert {status for index, status in results if index == server} == {200, 429}
