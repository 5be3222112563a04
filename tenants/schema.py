"""drf-spectacular description of the token authentication."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "tenants.authentication.ApiTokenAuthentication"
    name = "ApiToken"
    match_subclasses = True  # accounts.token_auth throttles and audits its refusals

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "po_<id>_<secret>",
            "description": "A token from `manage.py create_api_token` (read, write or agent).",
        }
