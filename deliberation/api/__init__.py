"""The REST API under /api/v1/ (Django REST framework, OpenAPI 3 by drf-spectacular).

Read access to deliberations and what their groups produced, question search and import, and
export jobs; the same rules as the pages (`deliberation.access`); one error format
(`errors.exception_handler`)."""
