import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()
# Every view is imported now, while the worker starts, rather than on its first request: the
# results pages bring in pandas and scipy, seconds that someone's first page would wait.
get_resolver().url_patterns  # noqa: B018 - imported for the side effect
