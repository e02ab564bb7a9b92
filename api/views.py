"""The OpenAI-compatible Conversations API. Actions parse, call conversations/, serialise."""

from drf_spectacular.utils import extend_schema_view
from rest_framework import exceptions, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from conversations import queries, services, validators
from conversations.filters import METADATA_PARAM, ConversationFilter
from conversations.models import ApiKey, Conversation

from .idempotency import idempotent
from .pagination import list_envelope, page_params
from .schema import CONVERSATION_OPERATIONS, ITEM_OPERATIONS
from .serializers import (
    ConversationCreateInput,
    ConversationOutput,
    ConversationUpdateInput,
    ItemOutput,
    ItemsCreateInput,
    deleted_conversation,
)


def _body(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


PAGE_PARAMETERS = ("after", "limit", "order")
INCLUDE_PARAMETERS = ("include[]", "include")  # the SDKs send include[]=…


def _include(request) -> frozenset[str]:
    """`include[]=a&include[]=b` (what the SDK sends) or plain repeated `include=a`."""
    values = request.query_params.getlist("include[]") + request.query_params.getlist("include")
    return validators.validate_include(values)


def api_key_of(request: Request) -> ApiKey:
    """The API key that authenticated this request (api/authentication.py puts it in request.auth,
    which DRF's stubs type as DRF's own Token)."""
    api_key = request.auth
    if not isinstance(api_key, ApiKey):  # only before authentication, which every action follows
        raise exceptions.NotAuthenticated()
    return api_key


class ProjectScopedViewSet(viewsets.ViewSet):
    # OPTIONS is a 405 like any other method a route lacks (and not offered in `Allow`), not DRF's
    # metadata document: a browser's CORS preflight is answered before DRF (api/transport.py).
    http_method_names = [method for method in viewsets.ViewSet.http_method_names if method != "options"]

    # The query parameters each action takes; any other is refused (spec §12).
    query_parameters: dict[str, tuple[str, ...]] = {}

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)  # authentication first: a stranger learns nothing
        validators.reject_unknown_parameters(self.query_parameter_names(request),
                                             self.query_parameters.get(self.action, ()))

    def query_parameter_names(self, request):
        return request.query_params.keys()

    @property
    def actor(self) -> services.Actor:
        return services.Actor.for_api_key(api_key_of(self.request))

    def get_conversation(self, conversation_id: str) -> Conversation:
        return queries.get_conversation(project_id=api_key_of(self.request).project_id,
                                        conversation_id=conversation_id)


@extend_schema_view(**CONVERSATION_OPERATIONS)
class ConversationViewSet(ProjectScopedViewSet):
    query_parameters = {"list": (*PAGE_PARAMETERS, *ConversationFilter.base_filters)}

    def query_parameter_names(self, request):
        # The search's metadata[KEY]=VALUE filters: any key (filters.metadata_pairs checks them).
        return [name for name in request.query_params if not METADATA_PARAM.match(name)]

    def list(self, request):
        params = page_params(request.query_params)
        scope = Conversation.objects.for_project(request.auth.project_id)
        conversations = ConversationFilter(request.query_params, queryset=scope).qs_or_raise()
        page = queries.conversation_page(conversations=conversations, project_id=request.auth.project_id, **params)
        return Response(list_envelope(page, ConversationOutput))

    @idempotent
    def create(self, request):
        body = _body(ConversationCreateInput, request)
        conversation, _ = services.conversation_create(
            project=request.auth.project, actor=self.actor, items=body.get("items"), metadata=body.get("metadata")
        )
        return Response(ConversationOutput(conversation).data)

    def retrieve(self, request, conversation_id):
        return Response(ConversationOutput(self.get_conversation(conversation_id)).data)

    @idempotent
    def update(self, request, conversation_id):
        body = _body(ConversationUpdateInput, request)
        conversation = services.conversation_update(
            conversation=self.get_conversation(conversation_id), actor=self.actor, metadata=body["metadata"]
        )
        return Response(ConversationOutput(conversation).data)

    @idempotent
    def destroy(self, request, conversation_id):
        conversation = self.get_conversation(conversation_id)
        services.conversation_delete(conversation=conversation, actor=self.actor)
        return Response(deleted_conversation(conversation.public_id))


@extend_schema_view(**ITEM_OPERATIONS)
class ConversationItemViewSet(ProjectScopedViewSet):
    query_parameters = {
        "list": (*PAGE_PARAMETERS, *INCLUDE_PARAMETERS),
        "create": INCLUDE_PARAMETERS,
        "retrieve": INCLUDE_PARAMETERS,
    }

    def list(self, request, conversation_id):
        params = page_params(request.query_params)
        include = _include(request)
        page = queries.item_page(conversation=self.get_conversation(conversation_id), **params)
        return Response(list_envelope(page, ItemOutput, {"include": include}))

    @idempotent
    def create(self, request, conversation_id):
        include = _include(request)
        body = _body(ItemsCreateInput, request)
        items = services.items_append(
            conversation=self.get_conversation(conversation_id), actor=self.actor, items=body["items"]
        )
        page = queries.Page(data=items, first_id=items[0].public_id, last_id=items[-1].public_id, has_more=False)
        return Response(list_envelope(page, ItemOutput, {"include": include}))

    def retrieve(self, request, conversation_id, item_id):
        include = _include(request)
        item = queries.get_item(conversation=self.get_conversation(conversation_id), item_id=item_id)
        return Response(ItemOutput(item, context={"include": include}).data)

    @idempotent
    def destroy(self, request, conversation_id, item_id):
        conversation = services.item_delete(
            conversation=self.get_conversation(conversation_id), actor=self.actor, item_id=item_id
        )
        return Response(ConversationOutput(conversation).data)
