"""Shared by the benchmarks: Django set-up, sample ids from the seeded database, the endpoints."""

import os
import random
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SEARCH_WORDS_COMMON = ["refund", "order", "delivery", "password", "invoice"]
SEARCH_WORDS_RARE = ["kettle", "blender", "waterproof", "docking", "vat"]


def setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "convoscope.settings")
    # Benchmarks measure the API, not its rate limit (gunicorn in api_load.py inherits this too).
    os.environ.setdefault("CONVOSCOPE_API_RATE_LIMIT", "off")
    import django

    django.setup()


@dataclass
class Samples:
    project_id: int
    conversation_ids: list[str]
    user_ids: list[str]


def load_samples(project_name: str, count: int = 500, seed: int = 7) -> Samples:
    """Random conversations of the project (by random id ranges, no ORDER BY random())."""
    from django.db.models import Max, Min

    from conversations.models import Conversation, Project

    project = Project.objects.get(name=project_name)
    scope = Conversation.objects.filter(project=project)
    bounds = scope.aggregate(low=Min("pk"), high=Max("pk"))
    rng = random.Random(seed)
    picks = sorted({rng.randint(bounds["low"], bounds["high"]) for _ in range(count * 2)})
    rows = list(scope.filter(pk__in=picks).values_list("public_id", "metadata")[:count])
    if not rows:
        raise SystemExit(f"project {project_name!r} has no conversations: seed it first")
    return Samples(project_id=project.pk, conversation_ids=[r[0] for r in rows],
                   user_ids=[r[1].get("user_id", "") for r in rows])


@dataclass
class Credentials:
    api_key: str
    username: str
    password: str


def make_credentials(samples: Samples) -> Credentials:
    """A fresh API key for the seeded project and a console superuser "benchmark"."""
    from django.contrib.auth.models import User

    from conversations import services
    from conversations.models import Project

    _, secret = services.apikey_create(project=Project.objects.get(pk=samples.project_id),
                                       actor=services.SYSTEM, name="benchmark")
    password = "bench-" + secret[-12:]
    user, _ = User.objects.get_or_create(username="benchmark")
    user.is_superuser = True
    user.set_password(password)
    user.save()
    return Credentials(api_key=secret, username=user.username, password=password)


@dataclass
class Request:
    method: str
    path: str
    body: dict | None = None
    console: bool = False  # needs a console session instead of an API key


def message_items(n: int, rng: random.Random) -> list[dict]:
    return [{"role": "user", "content": f"benchmark message {rng.randrange(10**6)} about a refund"} for _ in range(n)]


def endpoints(samples: Samples, rng: random.Random) -> dict:
    """Endpoint name -> a function making the next request (random conversation, user, word)."""
    conv = lambda: rng.choice(samples.conversation_ids)  # noqa: E731
    user = lambda: rng.choice(samples.user_ids)  # noqa: E731
    word = lambda: rng.choice(SEARCH_WORDS_COMMON if rng.random() < 0.5 else SEARCH_WORDS_RARE)  # noqa: E731
    return {
        "items.list": lambda: Request("GET", f"/v1/conversations/{conv()}/items?limit=20"),
        "items.create (1)": lambda: Request("POST", f"/v1/conversations/{conv()}/items",
                                            {"items": message_items(1, rng)}),
        "items.create (20)": lambda: Request("POST", f"/v1/conversations/{conv()}/items",
                                             {"items": message_items(20, rng)}),
        "conversations.retrieve": lambda: Request("GET", f"/v1/conversations/{conv()}"),
        "conversations.list metadata": lambda: Request("GET", f"/v1/conversations?metadata[user_id]={user()}"),
        "console search metadata": lambda: Request("GET", f"/?metadata[user_id]={user()}", console=True),
        "console search text": lambda: Request("GET", f"/?text={word()}", console=True),
    }


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def summary(latencies_ms: list[float], wall_seconds: float) -> dict:
    return {
        "requests": len(latencies_ms),
        "throughput_rps": round(len(latencies_ms) / wall_seconds, 1) if wall_seconds else None,
        "p50_ms": round(percentile(latencies_ms, 0.50), 2),
        "p95_ms": round(percentile(latencies_ms, 0.95), 2),
        "p99_ms": round(percentile(latencies_ms, 0.99), 2),
    }
