"""Wire shapes. Input serializers check the body's outline (the domain checks the rules);
output serializers own `object` and unix-second timestamps."""

from collections.abc import Mapping

from rest_framework import serializers

from conversations.projection import item_for_output
from conversations.validators import reject_unknown_parameters


class UnixTimestampField(serializers.Field):
    def to_representation(self, value):
        return int(value.timestamp())


class StrictInput(serializers.Serializer):
    """A body with a key this serializer does not declare is refused, never silently dropped."""

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            reject_unknown_parameters(data.keys(), self.fields)
        return super().to_internal_value(data)


class ConversationCreateInput(StrictInput):
    items = serializers.JSONField(required=False, allow_null=True)
    metadata = serializers.JSONField(required=False, allow_null=True)


class ConversationUpdateInput(StrictInput):
    metadata = serializers.JSONField(allow_null=True)


class ItemsCreateInput(StrictInput):
    items = serializers.JSONField()


class ConversationOutput(serializers.Serializer):
    id = serializers.CharField(source="public_id")
    object = serializers.SerializerMethodField()
    created_at = UnixTimestampField()
    metadata = serializers.JSONField()

    def get_object(self, conversation) -> str:
        return "conversation"


class ItemOutput(serializers.BaseSerializer):
    """An item is returned as stored, minus the fields `include` did not ask for."""

    def to_representation(self, item):
        return item_for_output(item.body, self.context.get("include", frozenset()))


def deleted_conversation(conversation_id: str) -> dict:
    return {"id": conversation_id, "object": "conversation.deleted", "deleted": True}

