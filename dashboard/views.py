"""The operator console. Each view parses input, calls conversations/, and renders one template
(or one of its partials when htmx asks). Domain errors the views let through are answered once, by
dashboard.errors."""

from django.contrib import messages
from django.http import Http404, HttpResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header, url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRedirect

from conversations import portability, queries, services, validators
from conversations.errors import InvalidInput
from conversations.filters import METADATA_PARAM, AuditEventFilter, ConsoleConversationFilter
from conversations.models import ApiKey, AuditEvent, Conversation, Project

from . import roles
from .decorators import requires
from .errors import returns_to
from .forms import ApiKeyForm, AuditCursorForm, MetadataForm

SEARCH_PAGE_SIZE = 25
TIMELINE_PAGE_SIZE = 30
AUDIT_PAGE_SIZE = 50


def _fragment_wanted(request) -> bool:
    """htmx asked for a piece of the page (not a history restore, which needs the whole page)."""
    return bool(request.htmx) and not request.htmx.history_restore_request


def _template(request, name: str, partial: str) -> str:
    return f"{name}#{partial}" if _fragment_wanted(request) else name


def _actor(request) -> services.Actor:
    return services.Actor.for_user(request.user)


def _get_conversation(conversation_id: str) -> Conversation:
    """The console sees every project; an unknown id is a 404 page."""
    conversation = Conversation.objects.select_related("project").where(public_id=conversation_id).first()
    if conversation is None:
        raise Http404(f"No conversation with id {conversation_id}")
    return conversation


def _next_url(request) -> str:
    """Where to go back to after a form: a local URL only, else the search page."""
    candidate = request.POST.get("next", "")
    if candidate and url_has_allowed_host_and_scheme(candidate, allowed_hosts={request.get_host()},
                                                     require_https=request.is_secure()):
        return candidate
    return reverse("dashboard:conversation-list")


def _with_params(base: str, query: QueryDict, **changes) -> str:
    query = query.copy()
    for key, value in changes.items():
        if value is None:
            query.pop(key, None)
        else:
            query[key] = value
    encoded = query.urlencode()
    return f"{base}?{encoded}" if encoded else base


# --- search ----------------------------------------------------------------------------------------


@requires(roles.VIEW)
@vary_on_headers("HX-Request")
def conversation_list(request):
    base = reverse("dashboard:conversation-list")
    # The id box and the "add a metadata filter" box lead to other URLs.
    wanted_id = request.GET.get("id", "").strip()
    if wanted_id:
        found = queries.locate(wanted_id)
        if found is not None:
            conversation, item = found
            url = reverse("dashboard:conversation-detail", args=[conversation.public_id])
            if item is not None:
                url = reverse("dashboard:item-detail", args=[conversation.public_id, item.public_id])
            return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
    new_filter = request.GET.get("meta", "").strip()
    if new_filter and "=" in new_filter:
        key, _, value = new_filter.partition("=")
        query = request.GET.copy()
        query.pop("meta")
        query.pop("after", None)
        query.appendlist(f"metadata[{key.strip()}]", value.strip())
        url = _with_params(base, query)
        return HttpResponseClientRedirect(url) if request.htmx else redirect(url)

    filterset = ConsoleConversationFilter(request.GET, queryset=Conversation.objects.all())
    page, error = None, None
    try:
        text = filterset.form.cleaned_data.get("text", "") if filterset.is_valid() else ""
        conversations = queries.search_rows(filterset.qs_or_raise(), text=(text or "").strip())
        page = queries.conversation_page(
            conversations=conversations, project_id=None,
            after=request.GET.get("after") or None, limit=SEARCH_PAGE_SIZE,
        )
    except InvalidInput as exc:
        error = exc.message
        if exc.param == "after":
            error = "That page link names no conversation (it was edited, or is older than a week); search again."
    if wanted_id:
        error = f"No conversation or item has the id “{wanted_id}”."
    elif new_filter and "=" not in new_filter:
        error = "Write a metadata filter as key=value, e.g. user_id=user_123."

    context = {
        "filterset": filterset,
        "page": page,
        "error": error,
        "chips": _metadata_chips(request.GET, base),
        "hidden_metadata": [(name, value) for name in request.GET if METADATA_PARAM.match(name)
                            for value in request.GET.getlist(name)],
        "more_url": _with_params(base, request.GET, after=page.last_id) if page and page.has_more else None,
        "text_query": request.GET.get("text", "").strip(),
        # The same search, every result, in the export format.
        "download_url": _with_params(reverse("dashboard:conversation-list-download"), request.GET,
                                     after=None, id=None, meta=None),
    }
    if _fragment_wanted(request) and request.GET.get("after"):
        return render(request, "dashboard/conversation_list.html#rows", context)
    return render(request, _template(request, "dashboard/conversation_list.html", "results"), context)


def _metadata_chips(query: QueryDict, base: str) -> list[dict]:
    """One chip per `metadata[KEY]=VALUE` of the search, with the URL of the search without it."""
    chips = []
    for name in query:
        match = METADATA_PARAM.match(name)
        if not match:
            continue
        for value in query.getlist(name):
            remaining = query.copy()
            remaining.setlist(name, [v for v in remaining.getlist(name) if v != value])
            remaining.pop("after", None)
            chips.append({"key": match.group(1), "value": value, "remove_url": _with_params(base, remaining)})
    return chips


@requires(roles.DELETE_CONVERSATION)
@require_POST
def conversation_bulk_delete(request):
    ids = request.POST.getlist("ids")
    conversations = list(Conversation.objects.select_related("project").where(public_id__in=ids))
    if not conversations:
        messages.warning(request, "Select at least one conversation to delete.")
        return redirect(_next_url(request))
    if request.POST.get("confirm") != "yes":
        return render(request, "dashboard/confirm_bulk_delete.html",
                      {"conversations": conversations, "next": _next_url(request)})
    for conversation in conversations:
        # Deleted meanwhile by someone else: the outcome is the same.
        services.conversation_delete(conversation=conversation, actor=_actor(request), missing_ok=True)
    messages.success(request, f"Deleted {len(conversations)} conversation(s).")
    return redirect(_next_url(request))


# --- one conversation --------------------------------------------------------------------------------


def _detail_context(request, conversation: Conversation) -> dict:
    """The conversation page: its metadata and one page of the timeline (`order`, `after`)."""
    order = request.GET.get("order") if request.GET.get("order") in validators.ORDERS else "asc"
    try:
        page = queries.item_page(conversation=conversation, after=request.GET.get("after") or None,
                                 limit=TIMELINE_PAGE_SIZE, order=order)
    except InvalidInput:  # a cursor naming no item of this conversation (edited by hand): start from the top
        page = queries.item_page(conversation=conversation, limit=TIMELINE_PAGE_SIZE, order=order)
    base = reverse("dashboard:conversation-detail", args=[conversation.public_id])
    return {
        "conversation": conversation,
        "page": page,
        "order": order,
        "other_order_url": _with_params(base, QueryDict(), order="desc" if order == "asc" else "asc"),
        "more_url": _with_params(base, QueryDict(), order=order, after=page.last_id) if page.has_more else None,
        "metadata_form": MetadataForm(metadata=conversation.metadata),
    }


@requires(roles.VIEW)
@vary_on_headers("HX-Request")
def conversation_detail(request, conversation_id):
    context = _detail_context(request, _get_conversation(conversation_id))
    if _fragment_wanted(request) and request.GET.get("after"):
        return render(request, "dashboard/conversation_detail.html#timeline_page", context)
    return render(request, "dashboard/conversation_detail.html", context)


@requires(roles.VIEW)
def item_detail(request, conversation_id, item_id):
    conversation = _get_conversation(conversation_id)
    item = queries.get_item(conversation=conversation, item_id=item_id)
    return render(request, "dashboard/item_detail.html", {"conversation": conversation, "item": item})


@requires(roles.EDIT_METADATA)
@require_http_methods(["GET", "POST"])
def metadata_edit(request, conversation_id):
    conversation = _get_conversation(conversation_id)
    form = MetadataForm(request.POST, metadata=conversation.metadata) if request.method == "POST" else \
        MetadataForm(metadata=conversation.metadata)
    editing = True
    if request.method == "POST" and form.is_valid():
        conversation = services.conversation_update(
            conversation=conversation, actor=_actor(request), metadata=form.cleaned_data["metadata"]
        )
        editing = False
        if not request.htmx:
            messages.success(request, "Metadata saved.")
            return redirect("dashboard:conversation-detail", conversation.public_id)
    if _fragment_wanted(request):
        context = {"conversation": conversation, "metadata_form": form, "editing": editing}
        return render(request, "dashboard/conversation_detail.html#metadata", context)
    # Without JavaScript: the whole conversation page, its metadata section in edit mode.
    context = {**_detail_context(request, conversation), "metadata_form": form, "editing": editing}
    return render(request, "dashboard/conversation_detail.html", context)


@requires(roles.DELETE_ITEM)
@require_http_methods(["GET", "POST"])
def item_delete(request, conversation_id, item_id):
    conversation = _get_conversation(conversation_id)
    if request.method == "GET":
        item = queries.get_item(conversation=conversation, item_id=item_id)
        return render(request, "dashboard/confirm.html", {
            "verb": "Delete", "what": f"item {item.public_id}",
            "detail": f"This removes a {item.type} item of conversation {conversation.public_id} for good. "
                      "The audit log keeps who did it and the ids, never the content.",
            "cancel_url": reverse("dashboard:conversation-detail", args=[conversation.public_id]),
        })
    # Already gone: the page should simply stop showing it.
    conversation = services.item_delete(conversation=conversation, actor=_actor(request), item_id=item_id,
                                        missing_ok=True)
    if request.htmx:
        # The item's element is swapped out; the header's item count is updated out of band.
        return render(request, "dashboard/conversation_detail.html#item_count", {"conversation": conversation,
                                                                                 "oob": True})
    messages.success(request, f"Deleted item {item_id}.")
    return redirect("dashboard:conversation-detail", conversation.public_id)


@requires(roles.DELETE_CONVERSATION)
@require_http_methods(["GET", "POST"])
def conversation_delete(request, conversation_id):
    conversation = _get_conversation(conversation_id)
    if request.method == "GET":
        return render(request, "dashboard/confirm.html", {
            "verb": "Delete", "what": f"conversation {conversation.public_id}",
            "detail": f"This removes the conversation and its {conversation.item_count} item(s), in project "
                      f"{conversation.project.name}, for good. The audit log keeps who did it and the ids, "
                      "never the content.",
            "cancel_url": reverse("dashboard:conversation-detail", args=[conversation.public_id]),
        })
    services.conversation_delete(conversation=conversation, actor=_actor(request), missing_ok=True)
    messages.success(request, f"Deleted conversation {conversation.public_id}.")
    url = reverse("dashboard:conversation-list")
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


# --- downloads: the export format of conversations.portability ---------------------------------------


@requires(roles.VIEW)
def conversation_download(request, conversation_id):
    """One conversation as JSON: exactly one line of `manage.py export_conversations`."""
    conversation = _get_conversation(conversation_id)
    [line] = portability.export_lines(Conversation.objects.filter(pk=conversation.pk))
    return HttpResponse(line.text + "\n", content_type="application/json", headers={
        "Content-Disposition": content_disposition_header(True, f"{conversation.public_id}.json"),
    })


@requires(roles.VIEW)
def conversation_list_download(request):
    """Every conversation a search finds, as JSON Lines (oldest first), streamed page by page."""
    filterset = ConsoleConversationFilter(request.GET, queryset=Conversation.objects.all())
    conversations = filterset.qs_or_raise()  # a bad filter: a 400 with its message (dashboard.errors)
    name = f"conversations-{timezone.now():%Y%m%d-%H%M%S}.jsonl"
    return StreamingHttpResponse(
        (line.text + "\n" for line in portability.export_lines(conversations)),
        content_type="application/x-ndjson; charset=utf-8",
        headers={"Content-Disposition": content_disposition_header(True, name)},
    )


# --- audit log, overview, API keys ------------------------------------------------------------------


@requires(roles.VIEW_AUDIT)
@vary_on_headers("HX-Request")
def audit_log(request):
    filterset = AuditEventFilter(request.GET, queryset=AuditEvent.objects.all())
    events = filterset.qs
    cursor = AuditCursorForm(request.GET)
    after = cursor.cleaned_data["after"] if cursor.is_valid() else None  # malformed: start from the newest
    page = queries.audit_page(events, after=after, limit=AUDIT_PAGE_SIZE)
    base = reverse("dashboard:audit-log")
    context = {
        "page": page,
        "actions": AuditEvent.Action.choices,
        "action": filterset.form.cleaned_data.get("action", ""),
        "actor": request.GET.get("actor", "").strip(),  # as typed, even when it matches nothing
        "conversation_id": request.GET.get("conversation", "").strip(),
        "more_url": _with_params(base, request.GET, after=str(page.last_id)) if page.has_more else None,
    }
    return render(request, _template(request, "dashboard/audit_log.html", "results"), context)


CHART_WIDTH, CHART_HEIGHT = 600, 160


@requires(roles.VIEW)
def overview(request):
    stats = queries.overview(days=30)
    peak = max((n for _, n in stats.conversations_per_day), default=0) or 1
    bar = CHART_WIDTH / len(stats.conversations_per_day)
    bars = [
        {"x": round(i * bar, 1), "width": round(bar - 2, 1), "height": round(n / peak * (CHART_HEIGHT - 20), 1),
         "y": round(CHART_HEIGHT - n / peak * (CHART_HEIGHT - 20), 1), "day": day, "count": n}
        for i, (day, n) in enumerate(stats.conversations_per_day)
    ]
    return render(request, "dashboard/overview.html", {
        "stats": stats, "bars": bars, "peak": peak, "width": CHART_WIDTH, "height": CHART_HEIGHT,
    })


@requires(roles.MANAGE_KEYS)
@require_http_methods(["GET", "POST"])
def api_keys(request):
    form = ApiKeyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        project = form.cleaned_data["project"] or services.project_get_or_create(name=form.cleaned_data["new_project"])
        key, secret = services.apikey_create(project=project, actor=_actor(request), name=form.cleaned_data["name"])
        # Post/redirect/get: a reload must not make a second key. The secret rides in the
        # session to the next page, which shows it once and forgets it.
        request.session["new_api_key"] = {"project": project.name, "secret": secret}
        return redirect("dashboard:api-keys")
    created = request.session.pop("new_api_key", None)
    keys = ApiKey.objects.select_related("project").order_by("revoked_at", "-created_at")
    return render(request, "dashboard/api_keys.html", {"form": form, "keys": keys, "created": created,
                                                        "projects": Project.objects.all()})


@requires(roles.MANAGE_KEYS)
@require_http_methods(["GET", "POST"])
@returns_to("dashboard:api-keys")
def api_key_revoke(request, prefix):
    if request.method == "GET":
        key = ApiKey.objects.select_related("project").where(prefix=prefix).first()
        if key is None:
            raise Http404(f"No API key with prefix {prefix}")
        return render(request, "dashboard/confirm.html", {
            "verb": "Revoke", "what": f"API key {key.prefix}…",
            "detail": f"Requests of project {key.project.name} using this key will answer 401 at once. "
                      "A revoked key cannot be restored.",
            "cancel_url": reverse("dashboard:api-keys"),
        })
    services.apikey_revoke(prefix=prefix, actor=_actor(request))  # unknown: its message, on the keys page
    messages.success(request, f"Revoked key {prefix}…; requests using it now answer 401.")
    return redirect("dashboard:api-keys")

