"""drf-spectacular extensions: document the API-key and staff-session authentication."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "core.auth.ApiKeyAuthentication"
    name = ["AppId", "AppToken"]

    def get_security_definition(self, auto_schema):
        return [
            {"type": "apiKey", "in": "header", "name": "X-App-Id"},
            {"type": "apiKey", "in": "header", "name": "X-App-Token"},
        ]


class StaffSessionScheme(OpenApiAuthenticationExtension):
    target_class = "core.auth.CsrfSessionAuthentication"
    name = "StaffSession"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "cookie", "name": "sessionid"}
