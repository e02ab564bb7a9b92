"""Copy conversations from any OpenAI-compatible Conversations API (`manage.py mirror`).

For each conversation id: look up what is stored here (its last item), ask the upstream
server through the official `openai` SDK for the conversation (metadata, created_at) and for
the items after that last one, oldest first (`items.list(order="asc", after=…)`, auto-
paginated, every `include` asked for so nothing optional is left behind), hold them in
memory, then hand them to services.conversation_import, which checks them by the API's rules
and writes them in one transaction. A failure anywhere leaves the conversation as it was.

Network trouble is the SDK's to retry: connection errors, timeouts, 408, 409, 429 and 5xx
are retried per request with exponential backoff (0.5 s doubling, capped at 8 s, honouring
Retry-After); what still fails is reported for that conversation and the run goes on.

The mirror only appends: items deleted upstream after they were copied stay here, and a
conversation whose last copied item is gone upstream is reported (delete the copy here and
mirror it again).
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

import openai
from openai import OpenAI

from . import services, validators
from .errors import DomainError
from .models import Conversation, Item, Project

# Every optional field an upstream returns only on request (encrypted reasoning, logprobs,
# search results, image URLs...): a copy must lose nothing.
INCLUDE = sorted(validators.INCLUDABLE)
PAGE_SIZE = validators.LIST_LIMIT_MAX
MAX_RETRIES = 4
TIMEOUT_SECONDS = 60.0


def make_client(base_url: str, api_key: str, *, max_retries: int = MAX_RETRIES,
                timeout: float = TIMEOUT_SECONDS) -> OpenAI:
    return OpenAI(base_url=base_url, api_key=api_key, max_retries=max_retries, timeout=timeout)


@dataclass(frozen=True)
class MirrorResult:
    conversation_id: str
    # "created", "appended", "updated" (metadata only), "unchanged" or "failed"
    outcome: str
    items_added: int = 0
    error: str = ""


def source_label(base_url: str) -> str:
    """What the audit log records as the source: the upstream's host, never credentials in the URL."""
    parts = urlsplit(base_url)
    host = parts.hostname or base_url
    return f"mirror:{host}:{parts.port}" if parts.port else f"mirror:{host}"


def mirror_conversation(client: OpenAI, *, project: Project, conversation_id: str, actor: services.Actor,
                        source: str = "mirror") -> MirrorResult:
    """Bring one conversation here up to date with the upstream; never raises for a conversation's
    own trouble (it comes back as outcome "failed" with the reason)."""

    def failed(message: str) -> MirrorResult:
        return MirrorResult(conversation_id, "failed", error=message)

    local = Conversation.objects.select_related("project").filter(public_id=conversation_id).first()
    if local is not None and local.project_id != project.pk:
        return failed(f"a conversation with this id already exists here in project '{local.project.name}' "
                      "(conversation ids are unique across projects); not copied")
    # Only what comes after the last item copied here is fetched.
    after = None
    if local is not None:
        last = Item.objects.filter(conversation=local).order_by("-position").values_list("public_id", flat=True)
        after = last.first()
    try:
        upstream = client.conversations.retrieve(conversation_id)
        pages = client.conversations.items.list(conversation_id, order="asc", limit=PAGE_SIZE, include=INCLUDE,
                                                **({"after": after} if after else {}))
        items = [item.to_dict(mode="json") for item in pages]
    except openai.NotFoundError:
        return failed("not found upstream")
    except openai.BadRequestError as exc:
        if after and exc.param == "after":
            return failed(f"the last item copied here ('{after}') is gone upstream; delete the copy here and "
                          "mirror it again to start over")
        return failed(f"upstream refused: {_status_message(exc)}")
    except openai.APIStatusError as exc:
        return failed(f"upstream answered {_status_message(exc)}")
    except openai.APITimeoutError:
        return failed("upstream timed out (after retries)")
    except openai.APIConnectionError as exc:
        return failed(f"could not reach upstream (after retries): {exc.__cause__ or exc}")
    except (openai.APIError, ValueError) as exc:
        return failed(f"unexpected answer from upstream: {exc}")
    try:
        result = services.conversation_import(
            project=project, actor=actor, public_id=conversation_id,
            created_at=datetime.fromtimestamp(upstream.created_at, tz=UTC), metadata=upstream.metadata,
            items=items, after=after, source=source,
        )
    except DomainError as exc:
        where = f" ({exc.param})" if exc.param else ""
        return failed(f"not copied: {exc.message}{where}")
    return MirrorResult(conversation_id, result.outcome, items_added=result.items_added)


def _status_message(exc: openai.APIStatusError) -> str:
    body = exc.body if isinstance(exc.body, dict) else {}
    return f"{exc.status_code}: {body.get('message') or exc.message}"
