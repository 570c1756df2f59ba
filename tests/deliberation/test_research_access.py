"""Who may see what: every new page and API endpoint, tried by every kind of visitor.

The visitors: nobody signed in, a participant (a browser that joined the deliberation), the
moderator who owns it, a moderator it was shared with, another moderator, a researcher it was
shared with, one it was not shared with, a researcher with the export-identifiers permission
(shared), and a user with view_all. The table says what each one gets."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User
from django.core.files.uploadedfile import SimpleUploadedFile

from deliberation.access import session_key
from deliberation.models import (
    ApiToken,
    DeliberationShare,
    ExportJob,
    Iteration,
    Rating,
    Statement,
)
from deliberation.services.api_tokens import api_token_create
from deliberation.services.ratings import rating_submit
from deliberation.services.texts import opinion_submit
from tests.commits import CommittingClient, committed

pytestmark = pytest.mark.django_db

VISITORS = [
    "anonymous",
    "participant",
    "owner",
    "shared_moderator",
    "other_moderator",
    "researcher",
    "unshared_researcher",
    "identifiers_researcher",
    "view_all",
]

MATRIX = {
    # page or endpoint: expected status per visitor
    "moderator detail": [302, 302, 200, 200, 404, 403, 403, 403, 403],
    "share page": [302, 302, 200, 403, 404, 403, 403, 403, 403],
    "share add": [302, 302, 302, 403, 404, 403, 403, 403, 403],
    "share remove": [302, 302, 302, 403, 404, 403, 403, 403, 403],
    "after login": [302, 302, 302, 302, 302, 302, 302, 302, 302],
    "research home": [302, 302, 200, 200, 200, 200, 200, 200, 200],
    "data page": [302, 302, 200, 200, 404, 200, 404, 200, 200],
    "results page": [302, 302, 200, 200, 404, 200, 404, 200, 200],
    "data page export": [302, 302, 302, 302, 404, 302, 404, 302, 302],
    "tokens page": [302, 302, 200, 200, 200, 200, 200, 200, 200],
    "token revoke": [302, 302, 302, 302, 302, 302, 302, 302, 302],
    "export status (web)": [302, 302, 404, 404, 404, 404, 404, 302, 404],
    "export download (web)": [302, 302, 404, 404, 404, 404, 404, 200, 404],
    "api deliberations": [401, 401, 200, 200, 200, 200, 200, 200, 200],
    "api deliberation": [401, 401, 200, 200, 404, 200, 404, 200, 200],
    "api groups": [401, 401, 200, 200, 200, 200, 200, 200, 200],
    "api rounds": [401, 401, 200, 200, 200, 200, 200, 200, 200],
    "api iterations": [401, 401, 200, 200, 200, 200, 200, 200, 200],
    "api iteration": [401, 401, 200, 200, 404, 200, 404, 200, 200],
    "api ratings": [401, 401, 200, 200, 200, 200, 200, 200, 200],
    "api rankings": [401, 401, 200, 200, 200, 200, 200, 200, 200],
    "api questions": [401, 401, 200, 200, 200, 200, 200, 200, 200],
    "api questions import": [401, 401, 201, 201, 201, 403, 403, 403, 403],
    "api export create": [401, 401, 202, 202, 404, 202, 404, 202, 202],
    "api export create with identifiers": [401, 401, 403, 403, 404, 403, 404, 202, 403],
    "api exports": [401, 401, 200, 200, 200, 200, 200, 200, 200],
    "api export": [401, 401, 404, 404, 404, 404, 404, 200, 404],
    "api export download": [401, 401, 404, 404, 404, 404, 404, 200, 404],
    "api schema": [200, 200, 200, 200, 200, 200, 200, 200, 200],
    "api docs": [200, 200, 200, 200, 200, 200, 200, 200, 200],
    "api redoc": [200, 200, 200, 200, 200, 200, 200, 200, 200],
}
# Lists: whether the visitor sees the deliberation's rows in them.
SEES_ROWS = [False, False, True, True, False, True, False, True, True]

OPINIONS = [
    "Buses should be free for everyone under eighteen. It keeps cars off the school run.",
    "Free buses cost money the council does not have. Cheaper passes would be fairer.",
    "Start with free buses on Saturdays and see how many people leave their cars at home.",
]


def _user(django_user_model, name: str, *codenames: str):
    user = django_user_model.objects.create_user(name, password="pw-for-tests-only")
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="deliberation", codename__in=codenames)
    )
    return user


@pytest.fixture
def study(make_group, moderator, django_user_model):
    """A deliberation owned by `moderator` with one mediated, rated iteration; the visitors'
    clients; and an export of it made by the identifiers researcher."""
    deliberation, members = make_group(3, n_candidates=3)
    iteration = Iteration.objects.get(round__group=members[0].group)
    for member, text in zip(members, OPINIONS, strict=True):
        with committed():
            opinion_submit(participant=member, iteration=iteration, text=text)
    winner = Statement.objects.get(iteration=iteration, is_winner=True)
    for member in members:
        with committed():
            rating_submit(participant=member, statement=winner, agreement=5, quality=6)
    users = {
        "owner": moderator,
        "shared_moderator": _user(django_user_model, "shared-mod", "moderate"),
        "other_moderator": _user(django_user_model, "other-mod", "moderate"),
        "researcher": _user(django_user_model, "res", "research"),
        "unshared_researcher": _user(django_user_model, "res-other", "research"),
        "identifiers_researcher": _user(
            django_user_model, "res-ids", "research", "export_identifiers"
        ),
        "view_all": _user(django_user_model, "all", "view_all"),
    }
    for name, role in (
        ("shared_moderator", "moderator"),
        ("researcher", "researcher"),
        ("identifiers_researcher", "researcher"),
    ):
        DeliberationShare.objects.create(
            deliberation=deliberation, user=users[name], role=role, created_by=moderator
        )
    clients = {"anonymous": CommittingClient()}
    participant = CommittingClient()
    session = participant.session
    session[session_key(deliberation)] = str(members[0].public_id)
    session.save()
    clients["participant"] = participant
    for name, user in users.items():
        clients[name] = CommittingClient()
        clients[name].force_login(user)
    response = clients["identifiers_researcher"].post(
        "/api/v1/exports/",
        {"deliberation": str(deliberation.public_id), "schema": "tidy", "format": "csv"},
        content_type="application/json",
    )
    assert response.status_code == 202, response.content
    job = ExportJob.objects.get(public_id=response.json()["id"])
    assert job.status == ExportJob.Status.DONE, job.error  # the task ran eagerly
    return deliberation, iteration, job, clients


def _requests(deliberation, iteration, job, token_id: int):
    d, j = deliberation.public_id, job.public_id
    export = {"deliberation": str(d), "schema": "tidy", "format": "csv"}
    return {
        "moderator detail": ("get", f"/moderate/d/{d}/", None),
        "share page": ("get", f"/moderate/d/{d}/share/", None),
        "share add": ("post", f"/moderate/d/{d}/share/", "form:share"),
        # A share that does not exist: the owner is told so; nobody else gets that far.
        "share remove": ("post", f"/moderate/d/{d}/share/999999/remove/", {}),
        "after login": ("get", "/research/start/", None),
        "research home": ("get", "/research/", None),
        "data page": ("get", f"/research/d/{d}/data/", None),
        "results page": ("get", f"/moderate/d/{d}/results/", None),
        "data page export": ("post", f"/research/d/{d}/data/", "form:export"),
        "tokens page": ("get", "/research/tokens/", None),
        "token revoke": ("post", f"/research/tokens/{token_id}/revoke/", {}),
        "export status (web)": ("get", f"/research/exports/{j}/", None),
        "export download (web)": ("get", f"/research/exports/{j}/download/", None),
        "api deliberations": ("get", "/api/v1/deliberations/", None),
        "api deliberation": ("get", f"/api/v1/deliberations/{d}/", None),
        "api groups": ("get", f"/api/v1/groups/?deliberation={d}", None),
        "api rounds": ("get", f"/api/v1/rounds/?deliberation={d}", None),
        "api iterations": ("get", f"/api/v1/iterations/?deliberation={d}", None),
        "api iteration": ("get", f"/api/v1/iterations/{iteration.pk}/", None),
        "api ratings": ("get", f"/api/v1/ratings/?deliberation={d}", None),
        "api rankings": ("get", f"/api/v1/rankings/?deliberation={d}&include_bots=true", None),
        "api questions": ("get", "/api/v1/questions/?search=bus", None),
        "api questions import": ("post", "/api/v1/questions/import/", "file"),
        "api export create": ("post", "/api/v1/exports/", export),
        "api export create with identifiers": (
            "post",
            "/api/v1/exports/",
            {**export, "include_identifiers": True},
        ),
        "api exports": ("get", "/api/v1/exports/", None),
        "api export": ("get", f"/api/v1/exports/{j}/", None),
        "api export download": ("get", f"/api/v1/exports/{j}/download/", None),
        "api schema": ("get", "/api/v1/schema/", None),
        "api docs": ("get", "/api/v1/docs/", None),
        "api redoc": ("get", "/api/v1/redoc/", None),
    }


def _send(client, method, url, body, visitor: str):
    if body is None:
        return client.get(url)
    if body == {}:
        return client.post(url)
    if body == "form:share":
        return client.post(url, {"username": "res-other", "role": "researcher"})
    if body == "form:export":
        return client.post(url, {"schema": "tidy", "fmt": "jsonl"})
    if body == "file":
        # Each visitor imports a question of its own, so that the second import is not a no-op.
        csv = f"question,topic\nShould {visitor} buses run all night?,transport\n".encode()
        upload = SimpleUploadedFile("bank.csv", csv, content_type="text/csv")
        return client.post(url, {"file": upload, "format": "csv"})
    return client.post(url, body, content_type="application/json")


def test_every_visitor_gets_what_the_matrix_says_on_every_page_and_endpoint(study):
    deliberation, iteration, job, clients = study
    # A token of the view_all user (the last visitor): everyone before them tries to revoke it
    # and is told there is no such token (a redirect with a message); only its owner can.
    token = api_token_create(user=User.objects.get(username="all"), name="all's")
    requests = _requests(deliberation, iteration, job, token.token.pk)
    assert set(requests) == set(MATRIX)
    got = {}
    for endpoint, (method, url, body) in requests.items():
        for visitor in VISITORS:
            response = _send(clients[visitor], method, url, body, visitor)
            got[(endpoint, visitor)] = response.status_code
            if endpoint == "token revoke":
                revoked = ApiToken.objects.get(pk=token.token.pk).revoked_at is not None
                assert revoked == (visitor == "view_all"), visitor
            if endpoint == "share add" and response.status_code == 302 and visitor == "owner":
                # Undo it, so the unshared researcher stays unshared for the rows below.
                DeliberationShare.objects.filter(user__username="res-other").delete()
            if response.status_code == 401:
                assert response.json()["error"]["code"] == "not_authenticated"
                assert response["WWW-Authenticate"] == "Token"
            elif endpoint.startswith("api") and response.status_code in (403, 404):
                assert set(response.json()["error"]) == {"code", "message", "details"}
    wrong = {
        key: (status, MATRIX[key[0]][VISITORS.index(key[1])])
        for key, status in got.items()
        if status != MATRIX[key[0]][VISITORS.index(key[1])]
    }
    assert wrong == {}, "(endpoint, visitor): (got, expected)"


def test_lists_show_the_deliberation_only_to_those_who_may_read_it(study):
    deliberation, iteration, job, clients = study
    title = deliberation.title.encode()
    ratings = Rating.objects.filter(iteration=iteration).count()
    for column, visitor in enumerate(VISITORS[2:], start=2):
        client = clients[visitor]
        listed = client.get("/api/v1/deliberations/").json()["results"]
        assert (str(deliberation.public_id) in {d["id"] for d in listed}) == SEES_ROWS[column]
        assert (title in client.get("/research/").content) == SEES_ROWS[column], visitor
        rows = client.get("/api/v1/ratings/").json()["results"]
        assert len(rows) == (ratings if SEES_ROWS[column] else 0), visitor
        groups = client.get(f"/api/v1/groups/?deliberation={deliberation.public_id}").json()
        assert groups["count"] == (1 if SEES_ROWS[column] else 0), visitor
        if visitor in ("owner", "shared_moderator", "other_moderator"):
            home = client.get("/moderate/").content
            assert (title in home) == (visitor != "other_moderator"), visitor


def test_the_identifiers_box_shows_only_to_those_allowed(study):
    deliberation, _, _, clients = study
    url = f"/research/d/{deliberation.public_id}/data/"
    for visitor in ("owner", "researcher", "view_all", "identifiers_researcher"):
        html = clients[visitor].get(url).content.decode()
        assert ('name="include_identifiers"' in html) == (visitor == "identifiers_researcher")
    # A form post with the box ticked by someone not allowed exports nothing with identifiers.
    clients["researcher"].post(url, {"schema": "hm", "fmt": "csv", "include_identifiers": "on"})
    assert not ExportJob.objects.filter(
        created_by__username="res", include_identifiers=True
    ).exists()


def test_a_share_grants_nothing_without_the_roles_permission(study, django_user_model):
    deliberation, _, _, clients = study
    plain = _user(django_user_model, "plain")
    DeliberationShare.objects.create(deliberation=deliberation, user=plain, role="researcher")
    client = CommittingClient()
    client.force_login(plain)
    assert client.get(f"/research/d/{deliberation.public_id}/data/").status_code == 404
    assert client.get(f"/api/v1/deliberations/{deliberation.public_id}/").status_code == 404
    # And a moderator share does not let a researcher run it.
    researcher = clients["researcher"]
    DeliberationShare.objects.filter(user__username="res").update(role="moderator")
    assert researcher.get(f"/moderate/d/{deliberation.public_id}/").status_code == 403
