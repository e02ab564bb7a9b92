"""The Django admin, for superusers: browse everything, search by id and metadata; items read-only."""

from django.contrib import admin

from .models import ApiKey, AuditEvent, Conversation, Item, Project


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "retention_days", "created_at"]
    fields = ["name", "retention_days"]
    search_fields = ["name"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["prefix", "name", "project", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["project"]
    search_fields = ["prefix", "name"]
    readonly_fields = ["prefix", "secret_hash", "created_at", "last_used_at"]

    def has_add_permission(self, request):
        return False  # keys are made with `manage.py create_api_key`, which shows the secret once


class ItemInline(admin.TabularInline):
    model = Item
    fields = ["position", "public_id", "type", "role", "status"]
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = True
    ordering = ["position"]


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ["public_id", "project", "created_at", "item_count"]
    list_filter = ["project"]
    # metadata is JSON; searching its text finds keys and values alike.
    search_fields = ["=public_id", "metadata"]
    readonly_fields = ["public_id", "project", "created_at", "updated_at", "next_position", "item_count"]
    inlines = [ItemInline]
    show_full_result_count = False


@admin.register(Item)
class ItemAdmin(admin.ModelAdmin):
    list_display = ["public_id", "conversation", "position", "type", "role", "created_at"]
    list_filter = ["type"]
    search_fields = ["=public_id", "=conversation__public_id"]
    list_select_related = ["conversation"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "action", "actor_label", "conversation_id"]
    list_filter = ["action"]
    search_fields = ["=conversation_id", "actor_label"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
