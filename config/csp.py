"""django-csp's middleware with the site-wide header built once.

django-csp 4.0 builds the Content-Security-Policy from the settings on every response, twice (the
policy and the report-only one), copying its parts with `dataclasses.asdict` each time: about a
third of what the whole middleware stack costs a response with no body, such as the waiting
page's unchanged poll (DESIGN.md gives that poll 1 ms of server CPU). The site's policy does not
change between requests, so a response that asks for nothing of its own gets the same string.
Anything else (a view's `@csp_update`, a nonce, exemptions, URL prefixes, a report-only policy,
the debug pages) goes through django-csp unchanged.
"""

from csp.constants import HEADER
from csp.middleware import CheckableLazyObject, CSPMiddleware
from csp.utils import build_policy
from django.conf import settings

# What a view's decorators set on a response to change its policy (csp.decorators).
PER_RESPONSE = (
    "_csp_config",
    "_csp_update",
    "_csp_replace",
    "_csp_exempt",
    "_csp_config_ro",
    "_csp_update_ro",
    "_csp_replace_ro",
    "_csp_exempt_ro",
)


class SiteCSPMiddleware(CSPMiddleware):
    def __init__(self, get_response):
        super().__init__(get_response)
        self._built_from = None
        self._header = ""

    def _site_header(self) -> str | None:
        """The site-wide header, rebuilt when the settings object changed (tests override
        it); None when the settings ask for something this shortcut does not do."""
        policy = getattr(settings, "CONTENT_SECURITY_POLICY", None)
        if (
            not policy
            or policy.get("EXCLUDE_URL_PREFIXES")
            or getattr(settings, "CONTENT_SECURITY_POLICY_REPORT_ONLY", None)
            or settings.DEBUG
        ):
            return None
        if policy is not self._built_from:
            self._header = build_policy()
            self._built_from = policy
        return self._header

    def process_response(self, request, response):
        header = self._site_header()
        if (
            header is None
            or getattr(request, "_csp_nonce", None) is not None
            or HEADER in response
            or any(hasattr(response, name) for name in PER_RESPONSE)
        ):
            return super().process_response(request, response)
        response[HEADER] = header
        # As django-csp does: a nonce asked for after the header was written is an error.
        request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)
        return response
