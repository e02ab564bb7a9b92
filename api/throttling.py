"""Rate limiting per API key, configured by CONVOSCOPE_API_RATE_LIMIT ("N/second", "N/minute", ...).

A fixed window: time is cut into windows of the rate's period, aligned to the clock (every clock
second for N/second, every minute, hour or UTC day), and each key may make N requests per window.
Every request is counted by one atomic increment of the key's counter for the current window, so
the limit holds exactly however many threads, processes and servers share it: at most N requests
pass in one window (slack 0). Across a window boundary a client may send up to 2N requests in one
period's time (N at the end of one window, N at the start of the next).

The counters live in Django's cache: Redis when REDIS_URL is set, so every gunicorn worker and
every server counts against the same budget (RedisCache.incr is Redis INCR); otherwise local
memory, one count per process (LocMemCache.incr holds a lock). Over the limit the API answers 429
in OpenAI's error shape with a `retry-after` header (api.exceptions): the seconds until the window
ends, which the openai SDK honours before retrying.

Not DRF's SimpleRateThrottle: it reads the request history, then writes it back, so concurrent
requests each read the same history and all pass (measured: 85 a second through a 20/second limit
with two server processes).
"""

import logging
import math
import time

from django.conf import settings
from django.core.cache import cache
from redis.exceptions import RedisError
from rest_framework.throttling import BaseThrottle

logger = logging.getLogger(__name__)

PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}  # by the first letter of the rate's period
# A window's counter outlives its window by this much: a request that read the clock just before
# the window ended still finds it, and the counter still expires on its own.
COUNTER_GRACE_SECONDS = 60


def parse_rate(rate: str) -> tuple[int, int]:
    """'20/second' -> (20, 1): requests allowed per window, window length in seconds. The setting
    is validated at start-up (settings.env_rate)."""
    count, _, period = rate.partition("/")
    return int(count), PERIODS[period[0]]


def count_request(key: str, timeout: int) -> int:
    """Count one request against the counter at `key` (created with this timeout); returns the count
    including this request. Atomic: concurrent callers each get a different count."""
    for _ in range(3):
        cache.add(key, 0, timeout=timeout)  # no-op unless the counter is missing
        try:
            count = cache.incr(key)
        except ValueError:
            # Gone between add and incr (expired, or evicted by a full Redis): create it again.
            continue
        if count == 1:
            # RedisCache.incr is EXISTS then INCR: a counter that expires in between is recreated
            # by INCR with no expiry. The first request of a window (re)sets it, whichever happened.
            cache.touch(key, timeout)
        return count
    raise RedisError(f"the rate-limit counter {key} keeps disappearing")


class ApiKeyRateThrottle(BaseThrottle):
    timer = staticmethod(time.time)  # the clock; tests move it by hand

    def allow_request(self, request, view) -> bool:
        rate = settings.CONVOSCOPE_API_RATE_LIMIT  # read per request, so tests can change it
        if rate is None or request.auth is None:
            return True  # off, or not authenticated: the 401 comes first, there is no key to count against
        limit, period = parse_rate(rate)
        now = self.timer()
        window = int(now // period)
        self.seconds_left = (window + 1) * period - now
        try:
            count = count_request(f"ratelimit:{request.auth.pk}:{period}:{window}", period + COUNTER_GRACE_SECONDS)
        except RedisError:
            # A rate limiter that is down must not take the API down with it: let the request through.
            logger.warning("Rate limit not checked: the cache is unreachable", exc_info=True)
            return True
        return count <= limit

    def wait(self) -> int:
        """Whole seconds until the window ends and the key's budget is whole again (at least 1)."""
        return max(math.ceil(self.seconds_left), 1)
