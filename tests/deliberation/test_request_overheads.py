"""What every request pays for, made cheaper without changing what it does: the site-wide
Content-Security-Policy built once (config/csp.py) gives every response the header django-csp
itself would give it, a view's own changes included; the Redis cache keeps its client
(config/cache.py)."""

import pytest
from csp.decorators import csp_update
from django.core.cache import caches
from django.http import HttpResponse
from django.test import Client
from django.urls import path


def plain(request):
    return HttpResponse(status=204)


@csp_update({"img-src": ["https://maps.example.org"]})
def with_maps(request):
    return HttpResponse("map")


urlpatterns = [path("plain/", plain), path("maps/", with_maps)]

pytestmark = pytest.mark.urls(__name__)
STOCK = "csp.middleware.CSPMiddleware"
SITE = "config.csp.SiteCSPMiddleware"


def headers_with(middleware: str, settings, url: str) -> str:
    settings.MIDDLEWARE = [m if m != SITE else middleware for m in settings.MIDDLEWARE]
    return Client().get(url)["Content-Security-Policy"]


@pytest.mark.parametrize("url", ["/plain/", "/maps/"])
def test_the_header_is_the_one_django_csp_builds(settings, url):
    assert SITE in settings.MIDDLEWARE
    assert headers_with(SITE, settings, url) == headers_with(STOCK, settings, url)


def test_a_views_own_sources_reach_its_header_only(client):
    assert "https://maps.example.org" in client.get("/maps/")["Content-Security-Policy"]
    assert "https://maps.example.org" not in client.get("/plain/")["Content-Security-Policy"]


def test_changed_settings_change_the_header(client, settings):
    before = client.get("/plain/")["Content-Security-Policy"]
    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"default-src": ["'none'"]}}
    after = client.get("/plain/")["Content-Security-Policy"]
    assert "default-src 'self'" in before and after == "default-src 'none'"


def test_the_redis_cache_keeps_one_client_and_still_works():
    cache = caches["default"]
    if not hasattr(cache, "_cache"):
        pytest.skip("the cache is not Redis here (REDIS_URL unset)")
    client = cache._cache.get_client(write=True)
    assert cache._cache.get_client(write=False) is client
    cache.set("overheads-test", {"version": 3})
    assert cache.get("overheads-test") == {"version": 3}
    cache.delete("overheads-test")
