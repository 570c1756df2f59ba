"""Domain errors that no view turned into a form error become a plain page with their status."""

from django.shortcuts import render

from deliberation.errors import DomainError


class DomainErrorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, DomainError):
            return None
        return render(
            request,
            "deliberation/error.html",
            {"message": exception.message, "code": exception.code},
            status=exception.status,
        )
