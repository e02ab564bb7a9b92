"""The Django admin, for superusers: browse everything, search by id and metadata.

The admin is a front door like the API and the console, never a side door around the rules:
conversations, items, API keys and audit events are read-only here; deleting a conversation or an
item and revoking a key go through conversations.services, so counts stay right and the audit log
names the admin user; a project's name obeys the same validator as everywhere else.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.html import format_html

from . import services, validators
from .errors import InvalidInput, NotFound
from .models import ApiKey, AuditEvent, Conversation, Item, Project


def _actor(request) -> services.Actor:
    return services.Actor.for_user(request.user)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written only by the services: shown, never added or edited here."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ProjectForm(forms.ModelForm):
    class Meta:
        model = Project
        fields = ["name", "retention_days"]

    def clean_name(self):
        try:
            return validators.validate_project_name(self.cleaned_data["name"])
        except InvalidInput as exc:
            raise ValidationError(exc.message) from None


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    form = ProjectForm
    list_display = ["name", "retention_days", "created_at"]
    search_fields = ["name"]

    def has_delete_permission(self, request, obj=None):
        # No service deletes a project: it would take its keys with it, unaudited.
        return False


@admin.register(ApiKey)
class ApiKeyAdmin(ReadOnlyAdmin):
    """Keys are made in the console (API keys page) or with `manage.py create_api_key`, which show
    the secret once; here they are listed and revoked."""

    list_display = ["prefix", "name", "project", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["project"]
    search_fields = ["prefix", "name"]
    actions = ["revoke_selected"]

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: the audit log keeps pointing at the key

    def has_revoke_permission(self, request):
        return request.user.has_perm("conversations.change_apikey")

    @admin.action(permissions=["revoke"], description="Revoke selected API keys")
    def revoke_selected(self, request, queryset):
        prefixes = list(queryset.filter(revoked_at__isnull=True).values_list("prefix", flat=True))
        for prefix in prefixes:
            try:
                services.apikey_revoke(prefix=prefix, actor=_actor(request))
            except NotFound:
                pass  # deleted meanwhile: nothing left to revoke
        self.message_user(request, f"Revoked {len(prefixes)} API key(s); requests using them now answer 401.",
                          messages.SUCCESS)


class ItemInline(admin.TabularInline):
    model = Item
    fields = readonly_fields = ("position", "public_id", "type", "role", "status")
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = True
    ordering = ["position"]


@admin.register(Conversation)
class ConversationAdmin(ReadOnlyAdmin):
    list_display = ["public_id", "project", "created_at", "item_count"]
    list_filter = ["project"]
    list_select_related = ["project"]
    # metadata is JSON; searching its text finds keys and values alike.
    search_fields = ["=public_id", "metadata"]
    fields = ["public_id", "project", "metadata", "created_at", "updated_at", "next_position", "item_count"]
    inlines = [ItemInline]
    show_full_result_count = False

    def get_deleted_objects(self, objs, request):
        """The confirmation page: each conversation with its item count. Django's own lists every
        item (a page of 100,000 lines for a long conversation) and then deletes them itself."""
        conversations = list(objs)
        items = sum(conversation.item_count for conversation in conversations)
        to_delete = [
            format_html("Conversation: {} ({} items, project {})", conversation.public_id,
                        conversation.item_count, conversation.project)
            for conversation in conversations
        ]
        perms_needed = set()
        if items and not self.admin_site.get_model_admin(Item).has_delete_permission(request):
            perms_needed.add(Item._meta.verbose_name_plural)
        model_count = {Conversation._meta.verbose_name_plural: len(conversations),
                       Item._meta.verbose_name_plural: items}
        return to_delete, model_count, perms_needed, []

    def delete_model(self, request, obj):
        try:
            services.conversation_delete(conversation=obj, actor=_actor(request))
        except NotFound:
            pass  # deleted meanwhile by someone else: the outcome is the same

    def delete_queryset(self, request, queryset):
        for conversation in queryset:
            self.delete_model(request, conversation)


@admin.register(Item)
class ItemAdmin(ReadOnlyAdmin):
    list_display = ["public_id", "conversation", "position", "type", "role", "created_at"]
    list_filter = ["type"]
    search_fields = ["=public_id", "=conversation__public_id"]
    list_select_related = ["conversation"]
    show_full_result_count = False

    def delete_model(self, request, obj):
        try:
            services.item_delete(conversation=obj.conversation, actor=_actor(request), item_id=obj.public_id)
        except NotFound:
            pass  # deleted meanwhile (or its conversation was): the outcome is the same

    def delete_queryset(self, request, queryset):
        for item in queryset.select_related("conversation"):
            self.delete_model(request, item)


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "action", "actor_label", "conversation_id"]
    list_filter = ["action"]
    search_fields = ["=conversation_id", "actor_label"]

    def has_delete_permission(self, request, obj=None):
        return False
