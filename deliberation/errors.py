"""The one exception type for broken business rules, mapped to HTTP in one place:
`deliberation.middleware.DomainErrorMiddleware` turns any `DomainError` a view lets through into
a page with the error's `status`. A view that shows the message beside the form field it is
about catches it and answers with that same `status`."""


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
