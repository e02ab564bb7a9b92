"""`Authorization: Bearer <key>` -> the key's project, for every /v1 request."""

from rest_framework import authentication, exceptions

from conversations import services


class ApiKeyUser:
    """Stands in for request.user on API requests; the key itself is request.auth."""

    is_authenticated = True
    is_anonymous = False

    def __init__(self, api_key):
        self.api_key = api_key


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None  # DRF answers NotAuthenticated (401)
        scheme, _, secret = header.partition(" ")
        secret = secret.strip()
        if scheme.lower() != "bearer" or not secret:
            raise exceptions.AuthenticationFailed(
                "Invalid Authorization header: expected 'Bearer YOUR_API_KEY'."
            )
        api_key = services.apikey_authenticate(secret)
        if api_key is None:
            raise exceptions.AuthenticationFailed(
                f"Incorrect API key provided: {secret[:8]}***. Create a key with "
                "`python manage.py create_api_key --project NAME`."
            )
        return ApiKeyUser(api_key), api_key

    def authenticate_header(self, request):
        return "Bearer"
