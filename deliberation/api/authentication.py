"""`Authorization: Token <secret>` (or `Bearer <secret>`) for scripts; the browser's session
works too (SessionAuthentication, with its CSRF check)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed

from deliberation.services.api_tokens import api_token_authenticate

KEYWORDS = ("token", "bearer")


class TokenAuthentication(BaseAuthentication):
    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].decode("latin-1").lower() not in KEYWORDS:
            return None
        if len(parts) != 2:
            raise AuthenticationFailed("Send the header as `Authorization: Token <secret>`.")
        user = api_token_authenticate(secret=parts[1].decode("latin-1"))
        if user is None:
            raise AuthenticationFailed("This token is not valid or was revoked.")
        return (user, None)

    def authenticate_header(self, request) -> str:
        return "Token"


class TokenScheme(OpenApiAuthenticationExtension):
    target_class = TokenAuthentication
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token <secret>`; make one on the API tokens page.",
        }
