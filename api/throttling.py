"""Rate limiting per API key (DRF throttling), configured by CONVOSCOPE_API_RATE_LIMIT.

Each key's recent request times live in Django's cache: Redis when REDIS_URL is set, so every
gunicorn worker and every server counts against the same budget; otherwise local memory, one
count per process. Over the limit the API answers 429 in OpenAI's error shape with a
`retry-after` header (api.exceptions), which the openai SDK honours before retrying.
"""

import logging

from django.conf import settings
from redis.exceptions import RedisError
from rest_framework.throttling import SimpleRateThrottle

logger = logging.getLogger(__name__)


class ApiKeyRateThrottle(SimpleRateThrottle):
    scope = "api_key"

    def get_rate(self) -> str | None:
        # Read per request (not DRF's DEFAULT_THROTTLE_RATES, fixed at import) so tests can change it.
        return settings.CONVOSCOPE_API_RATE_LIMIT

    def get_cache_key(self, request, view) -> str | None:
        if request.auth is None:
            return None  # not authenticated: the 401 comes first, there is no key to count against
        return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}

    def allow_request(self, request, view) -> bool:
        try:
            return super().allow_request(request, view)
        except RedisError:
            # A rate limiter that is down must not take the API down with it: let the request through.
            logger.warning("Rate limit not checked: the cache is unreachable", exc_info=True)
            return True

    def wait(self) -> float:
        """Seconds until the oldest request still counted leaves the window, freeing one slot."""
        oldest_counted = self.history[self.num_requests - 1]
        return max(self.duration - (self.now - oldest_counted), 1)
