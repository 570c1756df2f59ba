"""The OpenAPI schema: every operation documents the one error format for the statuses the
API can answer with besides success."""

ERROR_STATUSES = {
    "400": "The request is not valid.",
    "401": "Not signed in: send `Authorization: Token <secret>`.",
    "403": "Signed in, but not allowed.",
    "404": "Not found, or not yours to see.",
    "409": "Not in a state that allows this.",
    "410": "Gone: the download expired.",
    "429": "Too many requests; wait and retry.",
}
ERROR_REF = {"$ref": "#/components/schemas/Error"}


def add_error_responses(result, generator, request, public):
    """drf-spectacular post-processing hook: the `Error` component, and a response with it for
    every error status on every operation (an operation's own documentation wins)."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message", "details"],
                "properties": {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "details": {"nullable": True},
                },
            }
        },
    }
    for path in result.get("paths", {}).values():
        for operation in path.values():
            responses = operation.setdefault("responses", {})
            for status, description in ERROR_STATUSES.items():
                responses.setdefault(
                    status,
                    {
                        "description": description,
                        "content": {"application/json": {"schema": ERROR_REF}},
                    },
                )
    return result
