"""/v1 routes, spelled out: no trailing slashes, and POST on a conversation means update."""

from django.urls import path

from .views import ConversationItemViewSet, ConversationViewSet

conversations = ConversationViewSet.as_view({"get": "list", "post": "create"})
conversation = ConversationViewSet.as_view({"get": "retrieve", "post": "update", "delete": "destroy"})
items = ConversationItemViewSet.as_view({"get": "list", "post": "create"})
item = ConversationItemViewSet.as_view({"get": "retrieve", "delete": "destroy"})

urlpatterns = [
    path("conversations", conversations, name="conversations"),
    path("conversations/<str:conversation_id>", conversation, name="conversation"),
    path("conversations/<str:conversation_id>/items", items, name="conversation-items"),
    path("conversations/<str:conversation_id>/items/<str:item_id>", item, name="conversation-item"),
]
