"""The results page of a deliberation: the report's numbers as tables and accessible SVG charts,
computed once and read from the cache until new data arrives, with CSV and SVG downloads, for
moderators and researchers with access only."""

import io
import json
import re
import xml.dom.minidom

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from deliberation.models import AuditLog, Critique, Deliberation

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def study(transactional_db, fake_model_servers, moderator):
    out = io.StringIO()
    call_command(
        "simulate", "--groups", "2", "--size", "3", "--iterations", "2", "--conditions",
        "baseline,exclusion", "--question-source", "built-in", "--json", stdout=out,
    )  # fmt: skip
    public_id = json.loads(out.getvalue())["deliberation"]
    Deliberation.objects.filter(public_id=public_id).update(created_by=moderator)  # theirs
    return Deliberation.objects.get(public_id=public_id)


def _url(study, name="results", **kwargs):
    return reverse(f"moderator:{name}", kwargs={"public_id": study.public_id, **kwargs})


def test_page_shows_the_reports_numbers_with_charts(study, mod_client):
    page = mod_client.get(_url(study) + "?bots=1")
    assert page.status_code == 200
    html = page.content.decode()
    out = io.StringIO()
    call_command("report", "--deliberation", str(study.public_id), "--include-bots", "--json",
                 stdout=out)  # fmt: skip
    result = json.loads(out.getvalue())
    for row in result["win_rates"]:
        assert f"<td>{row['rate']}</td>" in html
    for row in result["exclusion"]:
        assert f"<td>{row['difference']}</td>" in html
    assert "People and bots together" in html
    for chart in ("chart-win-rates", "chart-exclusion", "chart-positions", "chart-calibration"):
        svg = re.search(rf'<svg[^>]*id="{chart}".*?</svg>', html, re.S).group(0)
        assert 'role="img"' in svg and f'aria-labelledby="{chart}-title {chart}-desc"' in svg
        xml.dom.minidom.parseString(svg)  # well-formed
    # the 50% line and a definition one click away from each number's column
    assert ">50%</text>" in html
    assert 'href="#def-win_rate"' in html and 'id="def-win_rate"' in html
    assert "Computed " in html
    # people only by default: the bots' numbers are not shown, and the page says so
    people = mod_client.get(_url(study)).content.decode()
    assert "People only." in people and f"<td>{result['win_rates'][0]['rate']}</td>" not in people


def test_cached_page_reads_one_row_per_check(study, mod_client, django_assert_num_queries):
    first = mod_client.get(_url(study) + "?bots=1").content.decode()
    # the session, the user, their permissions (user's and groups'), the deliberation and the
    # data version (one row, however many groups): nothing of the study is read again
    with django_assert_num_queries(6):
        again = mod_client.get(_url(study) + "?bots=1").content.decode()
    # the computation read the data on the server: logged once as a report, not as an export
    # (nothing left the server)
    logged = AuditLog.objects.filter(target_type="deliberation", target_id=study.pk)
    assert list(logged.values_list("action", flat=True)) == ["report"]
    computed = re.search(r"Computed ([0-9: -]+) UTC", first).group(1)
    assert computed == re.search(r"Computed ([0-9: -]+) UTC", again).group(1)


def test_new_data_is_computed_again(study, mod_client):
    before = mod_client.get(_url(study) + "?bots=1").content.decode()
    critique = Critique.objects.filter(participant__deliberation=study).first()
    critique.hidden = True  # a moderator hid a critique: the uptake has one critique less
    critique.save(update_fields=["hidden"])
    with CaptureQueriesContext(connection) as queries:
        after = mod_client.get(_url(study) + "?bots=1").content.decode()
    assert len(queries) > 6  # the study was read again
    counts = [
        sum(int(n) for n in re.findall(r"<td>all</td><td>(\d+)</td>", html))
        for html in (before, after)
    ]
    assert counts[1] == counts[0] - 1


def test_downloads(study, mod_client):
    csv = mod_client.get(_url(study, "results_csv", table="win_rates") + "?bots=1")
    assert csv.status_code == 200 and csv["Content-Type"].startswith("text/csv")
    lines = csv.content.decode().splitlines()
    assert lines[0].startswith("condition,iteration_index,a,b,rate,ci_low,ci_high")
    assert len(lines) > 1
    svg = mod_client.get(_url(study, "results_svg", chart="win_rates") + "?bots=1")
    assert svg["Content-Type"] == "image/svg+xml"
    xml.dom.minidom.parseString(svg.content)
    assert mod_client.get(_url(study, "results_csv", table="nope")).status_code == 404
    assert mod_client.get(_url(study, "results_svg", chart="nope")).status_code == 404


def test_only_people_with_access(study, client, django_user_model):
    url = _url(study)
    assert client.get(url).status_code == 302  # log in first
    stranger = django_user_model.objects.create_user("someone", password="pw-for-tests-only")
    client.force_login(stranger)
    assert client.get(url).status_code == 404
    assert client.get(_url(study, "results_csv", table="win_rates")).status_code == 404
    stranger.user_permissions.add(
        Permission.objects.get(content_type__app_label="deliberation", codename="view_all")
    )
    client.force_login(stranger)
    assert client.get(url).status_code == 200


def test_linked_from_the_moderator_page(study, mod_client):
    page = mod_client.get(reverse("moderator:deliberation_detail",
                                  kwargs={"public_id": study.public_id}))  # fmt: skip
    assert f'href="{_url(study)}"' in page.content.decode()
