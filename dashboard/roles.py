"""The console's three roles: Django groups and the permissions each one holds."""

VIEWER = "viewer"
OPERATOR = "operator"
ADMIN = "admin"

VIEW = "conversations.view_conversation"
EDIT_METADATA = "conversations.change_conversation"
DELETE_CONVERSATION = "conversations.delete_conversation"
DELETE_ITEM = "conversations.delete_item"
VIEW_AUDIT = "conversations.view_auditevent"
MANAGE_KEYS = "conversations.add_apikey"

_VIEWER_PERMS = [VIEW, "conversations.view_item", "conversations.view_project", VIEW_AUDIT]
_OPERATOR_PERMS = _VIEWER_PERMS + [EDIT_METADATA, DELETE_CONVERSATION, DELETE_ITEM]
_ADMIN_PERMS = _OPERATOR_PERMS + [
    MANAGE_KEYS, "conversations.view_apikey", "conversations.change_apikey",
    "conversations.add_project", "conversations.change_project",
]

ROLE_PERMISSIONS = {VIEWER: _VIEWER_PERMS, OPERATOR: _OPERATOR_PERMS, ADMIN: _ADMIN_PERMS}
