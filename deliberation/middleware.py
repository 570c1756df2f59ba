"""Domain errors that no view turned into a form error become a plain page with their status,
and are logged on one line (a refusal is not an error of ours: no traceback). Every request
starts in the site's language; a participant page switches to its deliberation's."""

import logging

from django.conf import settings
from django.shortcuts import render
from django.utils import translation

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


class LanguageMiddleware:
    """Each request starts in `LANGUAGE_CODE`, whatever the browser asks for, and whatever
    language the previous request on this thread spoke; a participant page switches to its
    deliberation's (`access.get_open_deliberation`), for the page, its error page and its
    messages. The response says which language it is in (Content-Language)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with translation.override(settings.LANGUAGE_CODE):
            response = self.get_response(request)
            response.headers.setdefault("Content-Language", translation.get_language())
        return response
