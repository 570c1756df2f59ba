"""The REST API through HTTP: tokens (made and revoked on their page, stored hashed), the one
error format, ratings by cursor with their filters, bots kept apart, pseudonyms only, the
iteration with its statements and predictions, question import, throttling."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.throttling import SimpleRateThrottle

from deliberation.exports.pseudonyms import participant_pseudonym
from deliberation.models import (
    ApiToken,
    DeliberationShare,
    Iteration,
    Participant,
    Provenance,
    Question,
    Rating,
    Statement,
)
from deliberation.services.ratings import rating_submit
from deliberation.services.texts import opinion_submit
from tests.commits import CommittingClient, committed

pytestmark = pytest.mark.django_db

OPINIONS = [
    "Buses should be free for everyone under eighteen. It keeps cars off the school run.",
    "Free buses cost money the council does not have. Cheaper passes would be fairer.",
    "Start with free buses on Saturdays and see how many people leave their cars at home.",
]


@pytest.fixture
def researcher(django_user_model):
    user = django_user_model.objects.create_user("res", password="pw-for-tests-only")
    user.user_permissions.add(Permission.objects.get(codename="research"))
    return user


@pytest.fixture
def rated(make_group, moderator, researcher):
    """A deliberation (shared with the researcher) with one mediated iteration whose winner
    every member rated, and one bot in the group who rated it too."""
    deliberation, members = make_group(3, n_candidates=3)
    DeliberationShare.objects.create(deliberation=deliberation, user=researcher, role="researcher")
    iteration = Iteration.objects.get(round__group=members[0].group)
    for member, text in zip(members, OPINIONS, strict=True):
        with committed():
            opinion_submit(participant=member, iteration=iteration, text=text)
    winner = Statement.objects.get(iteration=iteration, is_winner=True)
    for member, agreement in zip(members, (2, 5, 7), strict=True):
        with committed():
            rating_submit(participant=member, statement=winner, agreement=agreement, quality=6)
    bot = Participant.objects.create(
        deliberation=deliberation,
        group=members[0].group,
        seat=3,
        provenance=Provenance.BOT_CITIZEN,
        status=Participant.Status.ACTIVE,
    )
    Rating.objects.create(
        participant=bot, statement=winner, iteration=iteration, agreement=4, quality=4
    )
    return deliberation, iteration, members, bot


def _token(user, client: Client | None = None) -> str:
    client = client or CommittingClient()
    client.force_login(user)
    response = client.post("/research/tokens/", {"name": "notebook"})
    assert "no-store" in response["Cache-Control"]  # the secret stays out of caches
    html = response.content.decode()
    secret = html.split('id="token-secret" value="', 1)[1].split('"', 1)[0]
    assert secret.startswith("cg_")
    return secret


def _api(secret: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Token {secret}")


def test_a_token_is_shown_once_stored_hashed_works_and_stops_when_revoked(rated, researcher):
    deliberation = rated[0]
    page = CommittingClient()
    secret = _token(researcher, page)
    token = ApiToken.objects.get(user=researcher)
    assert token.key_sha256 == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in {str(getattr(token, f.attname)) for f in ApiToken._meta.fields}
    assert secret not in page.get("/research/tokens/").content.decode()  # shown once only

    response = _api(secret).get(f"/api/v1/deliberations/{deliberation.public_id}/")
    assert response.status_code == 200 and response.json()["title"] == deliberation.title
    bearer = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert bearer.get("/api/v1/deliberations/").status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None

    # Another user cannot revoke it; its owner can, and then it is refused.
    other = researcher.__class__.objects.create_user("other", password="pw-for-tests-only")
    intruder = CommittingClient()
    intruder.force_login(other)
    intruder.post(f"/research/tokens/{token.pk}/revoke/")
    assert _api(secret).get("/api/v1/deliberations/").status_code == 200
    page.post(f"/research/tokens/{token.pk}/revoke/")
    refused = _api(secret).get("/api/v1/deliberations/")
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "authentication_failed"
    assert _api("cg_not-a-token").get("/api/v1/deliberations/").status_code == 401


def test_errors_have_one_format(rated, researcher):
    client = CommittingClient()
    client.force_login(researcher)
    bad = client.get("/api/v1/ratings/?deliberation=not-a-uuid&since=yesterday").json()
    assert bad["error"]["code"] == "invalid"
    assert set(bad["error"]["details"]) == {"deliberation", "since"}
    missing = client.get("/api/v1/iterations/999999/")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"

    moderator = rated[0].created_by
    mod = CommittingClient()
    mod.force_login(moderator)
    empty = SimpleUploadedFile("bank.csv", b"question,topic\n", content_type="text/csv")
    domain = mod.post("/api/v1/questions/import/", {"file": empty})
    assert domain.status_code == 400
    assert domain.json() == {
        "error": {"code": "import_empty", "message": "The file has no questions.", "details": None}
    }


def test_ratings_come_by_cursor_once_each_with_pseudonyms_and_bots_apart(
    rated, researcher, django_assert_max_num_queries
):
    deliberation, iteration, members, bot = rated
    secret = _token(researcher)
    client = _api(secret)

    def walk(query: str) -> list[dict]:
        rows, url = [], f"/api/v1/ratings/?{query}&page_size=2"
        while url:
            page = client.get(url).json()
            rows += page["results"]
            url = page["next"]
        return rows

    humans = walk(f"deliberation={deliberation.public_id}")
    assert len(humans) == 3 and len({row["id"] for row in humans}) == 3
    assert {row["participant"] for row in humans} == {
        participant_pseudonym(m.public_id) for m in members
    }
    assert not any(row["bot"] for row in humans)
    assert sorted(row["agreement"] for row in humans) == [2, 5, 7]
    everyone = walk(f"deliberation={deliberation.public_id}&include_bots=true")
    assert [row["bot"] for row in everyone].count(True) == 1
    assert {row["participant"] for row in everyone if row["bot"]} == {
        participant_pseudonym(bot.public_id)
    }

    body = client.get("/api/v1/ratings/?include_bots=true").content.decode()
    for participant in [*members, bot]:
        assert str(participant.public_id) not in body

    # Filters: iteration, condition, time.
    assert len(walk(f"iteration={iteration.pk}")) == 3
    assert walk(f"iteration={iteration.pk + 1000}") == []
    assert walk("condition=no-such-condition") == []
    future = (timezone.now() + timedelta(hours=1)).isoformat()
    past = (timezone.now() - timedelta(hours=1)).isoformat()
    assert walk(f"since={past}".replace("+", "%2B")) != []
    assert walk(f"since={future}".replace("+", "%2B")) == []
    assert len(walk(f"until={future}".replace("+", "%2B"))) == 3

    # Constant queries, however many rows a page has.
    with CaptureQueriesContext(connection) as one:
        client.get("/api/v1/ratings/?page_size=1")
    with django_assert_max_num_queries(len(one)):
        client.get("/api/v1/ratings/?page_size=100&include_bots=true")


def test_an_iteration_comes_with_its_statements_predictions_scores_and_winner(rated, researcher):
    deliberation, iteration, members, _ = rated
    client = CommittingClient()
    client.force_login(researcher)
    body = client.get(f"/api/v1/iterations/{iteration.pk}/").json()
    statements = Statement.objects.filter(iteration=iteration)
    assert {s["id"] for s in body["statements"]} == {s.pk for s in statements}
    assert body["winner"] == statements.get(is_winner=True).pk
    assert len(body["aggregation"]["scores"]) == statements.filter(role="candidate").count()
    candidate = next(s for s in body["statements"] if s["role"] == "candidate")
    assert {p["participant"] for p in candidate["predictions"]} == {
        participant_pseudonym(m.public_id) for m in members
    }
    assert body["deliberation"] == str(deliberation.public_id)


def test_moderators_import_questions_and_everyone_allowed_searches_them(rated, researcher):
    moderator = rated[0].created_by
    mod = CommittingClient()
    mod.force_login(moderator)
    csv = b"question,topic,split\nShould night buses run every hour?,transport,train\n"
    upload = SimpleUploadedFile("night.csv", csv, content_type="text/csv")
    response = mod.post("/api/v1/questions/import/", {"file": upload})
    assert response.status_code == 201, response.content
    assert response.json()["created"] == 1
    assert Question.objects.filter(text="Should night buses run every hour?").exists()
    reader = CommittingClient()
    reader.force_login(researcher)
    found = reader.get("/api/v1/questions/?search=night+buses&split=train").json()
    assert [q["text"] for q in found["results"]] == ["Should night buses run every hour?"]
    again = SimpleUploadedFile("night.csv", csv, content_type="text/csv")
    assert reader.post("/api/v1/questions/import/", {"file": again}).status_code == 403


def test_too_many_requests_get_429_in_the_error_format(rated, researcher, monkeypatch):
    monkeypatch.setattr(
        SimpleRateThrottle, "THROTTLE_RATES", {"user": "3/min", "anon": "3/min", "exports": "1/min"}
    )
    client = _api(_token(researcher))
    statuses = [client.get("/api/v1/deliberations/").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert client.get("/api/v1/deliberations/").json()["error"]["code"] == "throttled"


def test_lists_take_the_same_queries_however_many_rows(
    rated, researcher, make_group, django_assert_max_num_queries
):
    client = _api(_token(researcher))
    urls = ["/api/v1/deliberations/", "/api/v1/groups/", "/api/v1/rounds/", "/api/v1/iterations/"]
    few = {}
    for url in urls:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        few[url] = len(queries)
    for n in range(3):
        other, _ = make_group(3, title=f"Other {n}", n_candidates=2)
        DeliberationShare.objects.create(deliberation=other, user=researcher, role="researcher")
    for url in urls:
        with django_assert_max_num_queries(few[url]):
            body = client.get(url).json()
        assert body["count"] == 4  # one of each per deliberation
