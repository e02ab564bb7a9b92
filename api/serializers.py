"""Wire shapes. Input serializers check the body's outline (the domain checks the rules);
output serializers own `object` and unix-second timestamps."""

from rest_framework import serializers

from conversations.validators import item_for_output


class UnixTimestampField(serializers.Field):
    def to_representation(self, value):
        return int(value.timestamp())


class ConversationCreateInput(serializers.Serializer):
    items = serializers.JSONField(required=False, allow_null=True)
    metadata = serializers.JSONField(required=False, allow_null=True)


class ConversationUpdateInput(serializers.Serializer):
    metadata = serializers.JSONField(allow_null=True)


class ItemsCreateInput(serializers.Serializer):
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

