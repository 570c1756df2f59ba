"""Schemathesis over the API's own OpenAPI schema, against the live test server with a token:
every operation, a bounded number of generated requests each, no 5xx and every response as
the schema says. Then the operations whose interesting answers need real ids (generated ids
find nothing) are called once each with ids of a real study, and validated the same way."""

from __future__ import annotations

import pytest
import requests
import schemathesis
from django.contrib.auth.models import Permission
from hypothesis import HealthCheck, given, settings
from rest_framework.throttling import SimpleRateThrottle
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from deliberation.models import DeliberationShare, ExportJob, Iteration, Statement
from deliberation.services.api_tokens import api_token_create
from deliberation.services.ratings import rating_submit
from deliberation.services.texts import opinion_submit

pytestmark = pytest.mark.django_db(transaction=True)

EXAMPLES_PER_OPERATION = 6
CHECKS = [not_a_server_error, response_schema_conformance]
OPINIONS = [
    "Libraries should open on Sundays. Families have time to visit together then.",
    "Sunday opening costs staff overtime. Spend the money on weekday evenings instead.",
    "Try Sunday afternoons in the central library for a year and count the visitors.",
]


@pytest.fixture
def study(make_group, moderator):
    """A rated iteration, and a token of its owner who also holds every research permission."""
    moderator.user_permissions.add(
        *Permission.objects.filter(codename__in=["research", "view_all", "export_identifiers"])
    )
    deliberation, members = make_group(3, n_candidates=3)
    iteration = Iteration.objects.get(round__group=members[0].group)
    for member, text in zip(members, OPINIONS, strict=True):
        opinion_submit(participant=member, iteration=iteration, text=text)
    winner = Statement.objects.get(iteration=iteration, is_winner=True)
    for member in members:
        rating_submit(participant=member, statement=winner, agreement=3, quality=4)
    DeliberationShare.objects.create(
        deliberation=deliberation, user=moderator, role="moderator", created_by=moderator
    )
    return deliberation, iteration, api_token_create(user=moderator, name="schemathesis").secret


def test_every_operation_answers_as_its_schema_says(live_server, study, monkeypatch):
    monkeypatch.setattr(
        SimpleRateThrottle,
        "THROTTLE_RATES",
        {"user": "100000/min", "anon": "100000/min", "exports": "100000/min"},
    )
    deliberation, iteration, secret = study
    headers = {"Authorization": f"Token {secret}"}
    raw = requests.get(f"{live_server.url}/api/v1/schema/?format=json", timeout=30).json()
    schema = schemathesis.openapi.from_dict(raw)
    base = live_server.url

    operations = [result.ok() for result in schema.get_all_operations()]
    labels = {operation.label for operation in operations}
    assert "GET /api/v1/ratings/" in labels and "POST /api/v1/exports/" in labels
    for operation in operations:
        if operation.path == "/api/v1/questions/import/":
            continue  # file uploads: tried with real files in test_api

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        def run(case):
            case.call_and_validate(base_url=base, headers=headers, checks=CHECKS)

        run()

    # The answers that need real ids, validated against the same schema.
    export = requests.post(
        f"{base}/api/v1/exports/",
        json={"deliberation": str(deliberation.public_id), "schema": "tidy", "format": "csv"},
        headers=headers,
        timeout=30,
    )
    assert export.status_code == 202, export.text
    job = ExportJob.objects.get(public_id=export.json()["id"])
    real = [
        ("GET", "/api/v1/deliberations/{public_id}/", {"public_id": str(deliberation.public_id)}),
        ("GET", "/api/v1/iterations/{id}/", {"id": iteration.pk}),
        ("GET", "/api/v1/exports/{public_id}/", {"public_id": str(job.public_id)}),
        ("GET", "/api/v1/exports/{public_id}/download/", {"public_id": str(job.public_id)}),
    ]
    for method, path, ids in real:
        operation = schema[path][method]
        case = operation.Case(path_parameters=ids)
        response = case.call_and_validate(base_url=base, headers=headers, checks=CHECKS)
        assert response.status_code == 200, (path, response.status_code)
