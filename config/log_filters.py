"""Logging filters named in settings.LOGGING."""

import logging


class RefusalsOnOneLine(logging.Filter):
    """A refused request (a 4xx: not found, forbidden, a failed CSRF check) is logged as one line:
    Django attaches the exception that refused it, and a traceback for a wrong URL or a missing
    permission only buries the errors that matter."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if isinstance(status, int) and 400 <= status < 500:
            record.exc_info = None
            record.exc_text = None
        return True
