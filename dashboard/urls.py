from django.urls import path

from . import views

app_name = "dashboard"

urlpatterns = [
    path("", views.conversation_list, name="conversation-list"),
    path("conversations/delete/", views.conversation_bulk_delete, name="conversation-bulk-delete"),
    path("conversations/export.jsonl", views.conversation_list_download, name="conversation-list-download"),
    path("conversations/<str:conversation_id>/", views.conversation_detail, name="conversation-detail"),
    path("conversations/<str:conversation_id>/metadata/", views.metadata_edit, name="metadata-edit"),
    path("conversations/<str:conversation_id>/delete/", views.conversation_delete, name="conversation-delete"),
    path("conversations/<str:conversation_id>/export.json", views.conversation_download,
         name="conversation-download"),
    path("conversations/<str:conversation_id>/items/<str:item_id>/", views.item_detail, name="item-detail"),
    path("conversations/<str:conversation_id>/items/<str:item_id>/delete/", views.item_delete, name="item-delete"),
    path("overview/", views.overview, name="overview"),
    path("audit/", views.audit_log, name="audit-log"),
    path("api-keys/", views.api_keys, name="api-keys"),
    path("api-keys/<str:prefix>/revoke/", views.api_key_revoke, name="api-key-revoke"),
]
