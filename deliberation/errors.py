"""The one exception type for broken business rules, and where it becomes an answer:

- a page: `deliberation.middleware.DomainErrorMiddleware` turns any `DomainError` a view lets
  through into the error page with the error's `status` (views do not render it themselves);
- the API: `deliberation.api.errors.exception_handler` gives it the API's error format, with the
  same `status`;
- a form: a view that shows the message beside the form or field it is about catches it and
  answers with the form again and that same `status`;
- a button that posts and goes back (the moderators' and researchers' actions): the view catches
  it and shows the message on the page it redirects to (`messages.error`)."""


class DomainError(Exception):
    """A request the rules do not allow: a clear message for the person, and an HTTP status.

    `code` is a short stable identifier for tests and API clients ("opinion_too_long",
    "already_rated", "wrong_phase", ...).
    """

    status = 400

    def __init__(self, message: str, *, code: str = "invalid", status: int | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        if status is not None:
            self.status = status


class NotAllowed(DomainError):
    status = 403


class WrongPhase(DomainError):
    status = 409
