"""Copy conversations from any OpenAI-compatible Conversations API (`manage.py mirror`).

For each conversation id: look up what is stored here (its last item), ask the upstream
server for the conversation (metadata, created_at) and for the items after that last one,
oldest first (`items.list(order="asc", after=…)`, page by page, every `include` asked for so
nothing optional is left behind), then hand them to importing.conversation_import, which checks
them and writes them in one transaction. A failure anywhere leaves the conversation as it was.

Answers are read as the JSON the upstream sent (the SDK's raw responses), never through the
SDK's models: those turn integers into floats (`1` -> `1.0`, 2**53 + 1 -> 2**53) and add
fields the upstream never sent. Items are kept as they came when the SDK's output models accept
them (item_rules.normalize_stored_item); `lenient` keeps the others too, marked.

Several conversations are fetched at once (`fetch_conversation`, thread-safe, no database);
the caller writes them one at a time. Network trouble is the SDK's to retry: connection errors,
timeouts, 408, 409, 429 and 5xx are retried per request with exponential backoff (0.5 s
doubling, capped at 8 s, honouring Retry-After); what still fails is reported for that
conversation and the run goes on (the command stops after a few connection failures in a row).

The mirror only appends. Before fetching new items it asks for the last item copied here; when
the upstream no longer has it, that is reported, and `recopy` deletes the copy here and copies
the conversation again from the start (in one transaction).
"""

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import cast
from urllib.parse import urlsplit

import openai
from django.db import transaction
from django.db.models import OuterRef, Subquery
from openai import OpenAI
from openai.types.responses import ResponseIncludable

from . import importing, services, validators
from .errors import DomainError
from .models import Conversation, Item, Project

# Every optional field an upstream returns only on request (encrypted reasoning, logprobs,
# search results, image URLs...): a copy must lose nothing.
INCLUDE = cast(list[ResponseIncludable], sorted(validators.INCLUDABLE))
PAGE_SIZE = validators.LIST_LIMIT_MAX
MAX_RETRIES = 4
TIMEOUT_SECONDS = 60.0


def make_client(base_url: str, api_key: str, *, max_retries: int = MAX_RETRIES,
                timeout: float = TIMEOUT_SECONDS) -> OpenAI:
    return OpenAI(base_url=base_url, api_key=api_key, max_retries=max_retries, timeout=timeout)


@dataclass(frozen=True)
class MirrorResult:
    conversation_id: str
    # "created", "appended", "updated" (metadata only), "unchanged", "recopied" or "failed"
    outcome: str
    items_added: int = 0
    error: str = ""
    unvalidated: int = 0  # items kept as they came (lenient)
    note: str = ""


def source_label(base_url: str) -> str:
    """What the audit log records as the source: the upstream's host, never credentials in the URL."""
    parts = urlsplit(base_url)
    host = parts.hostname or base_url
    return f"mirror:{host}:{parts.port}" if parts.port else f"mirror:{host}"


@dataclass(frozen=True)
class Local:
    """What is stored here of one conversation, read before fetching (on the writer's thread)."""

    conversation_id: str
    after: str | None = None  # the last item copied here
    refusal: str = ""  # why it cannot be mirrored at all


@dataclass(frozen=True)
class Fetched:
    """One conversation as the upstream returned it (raw JSON), or why not."""

    local: Local
    conversation: dict | None = None
    items: tuple = ()
    after: str | None = None  # what `items` follow (None: the whole timeline)
    last_gone: bool = False  # the last item copied here is gone upstream
    error: str = ""
    unreachable: bool = False  # a connection error (after retries)
    checked: importing.CheckedImport | None = None  # fetch_and_check: the import's rules passed...
    refused: DomainError | None = None  # ...or not


def local_states(*, project: Project, conversation_ids: list[str]) -> list[Local]:
    """local_state of several conversations, in two queries."""
    stored = {c.public_id: c for c in Conversation.objects.select_related("project")
              .filter(public_id__in=conversation_ids)}
    mine = [c.pk for c in stored.values() if c.project_id == project.pk]
    latest = Item.objects.filter(conversation=OuterRef("pk")).order_by("-position").values("public_id")[:1]
    last = dict(Conversation.objects.filter(pk__in=mine).annotate(last=Subquery(latest))
                .values_list("public_id", "last")) if mine else {}
    return [Local(conversation_id) if conversation_id not in stored
            else Local(conversation_id, after=last[conversation_id]) if conversation_id in last
            else _elsewhere(conversation_id, stored[conversation_id]) for conversation_id in conversation_ids]


def _elsewhere(conversation_id: str, local: Conversation) -> Local:
    return Local(conversation_id, refusal=f"a conversation with this id already exists here in project "
                                          f"'{local.project.name}' (conversation ids are unique across "
                                          "projects); not copied")


def local_state(*, project: Project, conversation_id: str) -> Local:
    local = Conversation.objects.select_related("project").filter(public_id=conversation_id).first()
    if local is None:
        return Local(conversation_id)
    if local.project_id != project.pk:
        return _elsewhere(conversation_id, local)
    last = Item.objects.filter(conversation=local).order_by("-position").values_list("public_id", flat=True)
    return Local(conversation_id, after=last.first())


def fetch_conversation(client: OpenAI, local: Local, *, recopy: bool = False) -> Fetched:
    """Everything upstream after the last item copied here (the whole timeline when there is none,
    or when it is gone upstream and `recopy`); never raises for a conversation's own trouble."""
    conversation_id, after, last_gone = local.conversation_id, local.after, False

    def failed(message: str, unreachable: bool = False) -> Fetched:
        return Fetched(local, error=message, unreachable=unreachable, last_gone=last_gone)

    if local.refusal:
        return failed(local.refusal)
    gone = (f"the last item copied here ('{after}') is gone upstream; run again with --recopy to delete the "
            "copy here and copy the conversation again")
    try:
        conversation = client.conversations.with_raw_response.retrieve(conversation_id).http_response.json()
        if after is not None:
            try:
                client.conversations.items.with_raw_response.retrieve(after, conversation_id=conversation_id)
            except openai.NotFoundError:
                last_gone = True
                if recopy:
                    after = None
        items: list[dict] = []
        cursor = after
        while True:
            try:
                page = client.conversations.items.with_raw_response.list(
                    conversation_id, order="asc", limit=PAGE_SIZE, include=INCLUDE,
                    after=cursor or openai.omit).http_response.json()
            except (openai.NotFoundError, openai.BadRequestError) as exc:
                # The conversation is there (retrieved above): what it refuses is the cursor.
                if after is not None and cursor == after and (last_gone or getattr(exc, "param", None) == "after"
                                                              or exc.status_code == 404):
                    return failed(gone)
                raise
            data = page.get("data") if isinstance(page, dict) else None
            if not isinstance(data, list):
                return failed("unexpected answer from upstream: a page of items without a 'data' list")
            items += data
            if not page.get("has_more") or not data:
                break
            cursor = page.get("last_id") or (data[-1].get("id") if isinstance(data[-1], dict) else None)
            if not isinstance(cursor, str):
                return failed("unexpected answer from upstream: a page without 'last_id'")
    except openai.NotFoundError:
        return failed("not found upstream")
    except openai.BadRequestError as exc:
        return failed(f"upstream refused: {_status_message(exc)}")
    except openai.APIStatusError as exc:
        return failed(f"upstream answered {_status_message(exc)}")
    except openai.APITimeoutError:
        return failed("upstream timed out (after retries)", unreachable=True)
    except openai.APIConnectionError as exc:
        return failed(f"could not reach upstream (after retries): {exc.__cause__ or exc}", unreachable=True)
    except (openai.APIError, ValueError) as exc:
        return failed(f"unexpected answer from upstream: {exc}")
    if not isinstance(conversation, dict) or not isinstance(conversation.get("created_at"), int | float):
        return failed("unexpected answer from upstream: a conversation without 'created_at'")
    return Fetched(local, conversation=conversation, items=tuple(items), after=after, last_gone=last_gone)


def fetch_and_check(client: OpenAI, local: Local, *, project: Project, lenient: bool = False,
                    recopy: bool = False) -> Fetched:
    """fetch_conversation, then the import's rules (importing.check_import, no database) on the
    same thread, so that the writer's thread only writes."""
    fetched = fetch_conversation(client, local, recopy=recopy)
    if fetched.error or (fetched.last_gone and fetched.after is None):  # a recopy is checked as it is written
        return fetched
    try:
        return replace(fetched, checked=importing.check_import(_request(fetched, project=project, lenient=lenient)))
    except DomainError as exc:
        return replace(fetched, refused=exc)


def _request(fetched: Fetched, *, project: Project, lenient: bool) -> importing.ImportRequest:
    upstream = fetched.conversation
    assert upstream is not None, "only a fetched conversation is imported"
    return importing.ImportRequest(
        project=project, public_id=fetched.local.conversation_id,
        created_at=datetime.fromtimestamp(upstream["created_at"], tz=UTC), metadata=upstream.get("metadata"),
        items=list(fetched.items), after=fetched.after, lenient=lenient,
    )


def store_conversation(fetched: Fetched, *, project: Project, actor: services.Actor, source: str = "mirror",
                       lenient: bool = False) -> MirrorResult:
    """Write what fetch_conversation brought (on the writer's thread); a recopy deletes the copy
    here and imports the whole timeline in one transaction."""
    conversation_id = fetched.local.conversation_id
    if fetched.error:
        return MirrorResult(conversation_id, "failed", error=fetched.error)
    recopy = fetched.last_gone and fetched.after is None
    try:
        with transaction.atomic():
            if recopy:
                services.conversation_delete(conversation=Conversation.objects.get(public_id=conversation_id),
                                             actor=actor)
            request = _request(fetched, project=project, lenient=lenient)
            result = importing.conversation_import(
                project=project, actor=actor, public_id=conversation_id, created_at=request.created_at,
                metadata=request.metadata, items=request.items, after=request.after, source=source, lenient=lenient,
            )
    except DomainError as exc:
        return _refused(conversation_id, exc)
    except Conversation.DoesNotExist:
        return MirrorResult(conversation_id, "failed", error="the copy here was deleted meanwhile; run again")
    return _stored(fetched, result, outcome="recopied" if recopy else result.outcome, lenient=lenient)


def store_conversations(batch: list[Fetched], *, project: Project, actor: services.Actor, source: str = "mirror",
                        lenient: bool = False) -> list[MirrorResult]:
    """store_conversation for several conversations, one result each, in order, with the same
    outcomes; the bulk import writes them (importing.conversations_import: those new here together,
    in one transaction, each all or nothing). A recopy is written alone (its delete and its import
    in one transaction)."""
    results: list[MirrorResult | None] = [None] * len(batch)
    requests: list[importing.ImportRequest | importing.CheckedImport] = []
    indexes = []
    for index, fetched in enumerate(batch):
        if fetched.refused:
            results[index] = _refused(fetched.local.conversation_id, fetched.refused)
        elif fetched.error or (fetched.last_gone and fetched.after is None):
            results[index] = store_conversation(fetched, project=project, actor=actor, source=source,
                                                lenient=lenient)
        else:
            requests.append(fetched.checked or _request(fetched, project=project, lenient=lenient))
            indexes.append(index)
    imported = importing.conversations_import(requests=requests, actor=actor, source=source) if requests else []
    for index, result in zip(indexes, imported, strict=True):
        fetched = batch[index]
        if isinstance(result, DomainError):
            results[index] = _refused(fetched.local.conversation_id, result)
            continue
        results[index] = _stored(fetched, result, outcome=result.outcome, lenient=lenient)
    answered = [result for result in results if result is not None]
    assert len(answered) == len(batch), "every conversation of the batch has its result"
    return answered


def _refused(conversation_id: str, exc: DomainError) -> MirrorResult:
    where = f" ({exc.param})" if exc.param and "cannot be stored" not in exc.message else ""
    return MirrorResult(conversation_id, "failed", error=f"not copied: {exc.message}{where}")


def _stored(fetched: Fetched, result: importing.ImportResult, *, outcome: str, lenient: bool) -> MirrorResult:
    note = "" if not fetched.last_gone or fetched.after is None else (  # None: recopied
        f"the last item copied here ('{fetched.local.after}') is gone upstream (items after it were copied); "
        "--recopy makes the copy match upstream")
    unvalidated = result.conversation.items.exclude(unvalidated="").count() if lenient and result.items_added else 0
    return MirrorResult(fetched.local.conversation_id, outcome, items_added=result.items_added,
                        unvalidated=unvalidated, note=note)


def mirror_conversation(client: OpenAI, *, project: Project, conversation_id: str, actor: services.Actor,
                        source: str = "mirror", lenient: bool = False, recopy: bool = False) -> MirrorResult:
    """Bring one conversation here up to date with the upstream; never raises for a conversation's
    own trouble (it comes back as outcome "failed" with the reason)."""
    fetched = fetch_conversation(client, local_state(project=project, conversation_id=conversation_id),
                                 recopy=recopy)
    return store_conversation(fetched, project=project, actor=actor, source=source, lenient=lenient)


def _status_message(exc: openai.APIStatusError) -> str:
    body = exc.body if isinstance(exc.body, dict) else {}
    message = body.get("message") or body.get("detail") or exc.message  # ogx answers {"detail": …}
    return f"{exc.status_code}: {message}"
