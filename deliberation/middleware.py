"""Domain errors that no view turned into a form error become a plain page with their status,
and are logged on one line (a refusal is not an error of ours: no traceback)."""

import logging

from django.shortcuts import render

from deliberation.errors import DomainError

logger = logging.getLogger("deliberation.refused")


class DomainErrorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, DomainError):
            return None
        logger.log(
            logging.WARNING if exception.status in (403, 404) else logging.INFO,
            "Refused %s %s: %s (%s)",
            request.method,
            request.path,
            exception.status,
            exception.code,
        )
        return render(
            request,
            "deliberation/error.html",
            {"message": exception.message, "code": exception.code},
            status=exception.status,
        )
