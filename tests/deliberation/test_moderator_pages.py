from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.http import HttpRequest
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from deliberation.models import (
    Deliberation,
    Group,
    Iteration,
    Opinion,
    Participant,
    Question,
    Round,
)
from deliberation.services.deliberations import deliberation_create, question_create

pytestmark = pytest.mark.django_db

CREATE_URL = "/moderate/new/"


@pytest.fixture
def deliberation(moderator):
    return deliberation_create(
        created_by=moderator, title="Transport", questions=["Should buses be free?"]
    )


def valid_form(**overrides):
    data = {
        "title": "School week",
        "description": "",
        "question_lines": "Should schools move to a four-day week?\n\nShould buses be free?\n",
        "existing_question_ids": "",
        "group_size": "5",
        "min_group_size": "3",
        "n_candidates": "16",
        "aggregation": "welfare",
        "alpha": "1",
        "critique_iterations": "0",
        "opinion_minutes": "10",
        "critique_minutes": "10",
        "rating_minutes": "8",
    }
    data.update(overrides)
    return data


def detail_url(d):
    return reverse("moderator:deliberation_detail", args=[d.public_id])


def fragment_url(d):
    return reverse("moderator:groups_fragment", args=[d.public_id])


def test_anonymous_user_is_sent_to_the_login_page(client, deliberation):
    for url in ("/moderate/", CREATE_URL, detail_url(deliberation), fragment_url(deliberation)):
        response = client.get(url)
        assert response.status_code == 302
        assert response.url.startswith("/accounts/login/?next=")


def test_login_page_renders_accessible_form(client):
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<label for="id_username">Username</label>' in html
    assert 'autocomplete="current-password"' in html


def test_moderator_can_log_in_and_lands_on_the_list(client, moderator):
    response = client.post(
        "/accounts/login/", {"username": "mod", "password": "pw-for-tests-only"}, follow=True
    )
    assert response.redirect_chain[-1][0] == reverse("moderator:home")
    assert b"Create a deliberation" in response.content


def test_user_without_the_permission_gets_403(client, django_user_model, deliberation):
    client.force_login(django_user_model.objects.create_user("someone", password="x-long-pass"))
    for url in ("/moderate/", CREATE_URL, detail_url(deliberation), fragment_url(deliberation)):
        assert client.get(url).status_code == 403
    assert client.post(CREATE_URL, valid_form()).status_code == 403
    assert Deliberation.objects.count() == 1


def test_moderator_creates_a_deliberation_through_the_form(mod_client, moderator):
    saved = question_create(text="Should libraries open on Sundays?")
    response = mod_client.post(
        CREATE_URL,
        valid_form(
            existing_question_ids=f"{saved.pk}",
            group_size="4",
            aggregation="schulze",
            critique_iterations="1",
            fill_with_bots="on",
        ),
    )
    deliberation = Deliberation.objects.get()
    assert response.status_code == 302
    assert response.url == detail_url(deliberation)
    assert deliberation.created_by == moderator
    assert deliberation.group_size == 4
    assert deliberation.fill_with_bots
    assert deliberation.rating_seconds == 8 * 60
    assert deliberation.mediation_config == {
        "n_candidates": 16,
        "aggregation": "schulze",
        "alpha": 1.0,
    }
    assert list(
        deliberation.question_links.order_by("position").values_list("question__text", flat=True)
    ) == [
        "Should schools move to a four-day week?",
        "Should buses be free?",
        "Should libraries open on Sundays?",
    ]


def test_post_without_csrf_token_is_rejected(moderator):
    client = Client(enforce_csrf_checks=True)
    client.force_login(moderator)
    response = client.post(CREATE_URL, valid_form())
    assert response.status_code == 403
    assert Deliberation.objects.count() == 0


def test_post_with_csrf_token_is_accepted(moderator):
    client = Client(enforce_csrf_checks=True)
    client.force_login(moderator)
    page = client.get(CREATE_URL)
    token = page.context["csrf_token"]
    response = client.post(CREATE_URL, valid_form(csrfmiddlewaretoken=str(token)))
    assert response.status_code == 302
    assert Deliberation.objects.count() == 1


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        (
            {"group_size": "3", "min_group_size": "4"},
            "min_group_size",
            "cannot be larger than the group size",
        ),
        (
            {"question_lines": " \n \n", "existing_question_ids": ""},
            "question_lines",
            "at least one",
        ),
        ({"n_candidates": "0"}, "n_candidates", "greater than or equal to 1"),
        ({"question_lines": "Fine question\n" + "q" * 2001}, "question_lines", "line 2 (2,001)"),
        ({"existing_question_ids": "999999"}, "existing_question_ids", "No question with id"),
        ({"existing_question_ids": "abc"}, "existing_question_ids", "whole numbers"),
        ({"title": ""}, "title", "required"),
        ({"alpha": "-1"}, "alpha", "greater than or equal to 0"),
        ({"aggregation": "borda"}, "aggregation", "valid choice"),
    ],
)
def test_invalid_input_rerenders_with_clear_errors_and_creates_nothing(
    mod_client, overrides, field, message
):
    response = mod_client.post(CREATE_URL, valid_form(**overrides))
    assert response.status_code == 400
    form = response.context["form"]
    assert message in " ".join(form.errors[field])
    html = response.content.decode()
    assert "The deliberation was not created" in html
    assert f'id="id_{field}_error"' in html
    assert Deliberation.objects.count() == 0
    assert Question.objects.count() == 0


def test_home_lists_deliberations_in_constant_queries(
    mod_client, deliberation, django_assert_max_num_queries
):
    with CaptureQueriesContext(connection) as few:
        mod_client.get("/moderate/")
    for n in range(3):
        other = deliberation_create(created_by=None, title=f"Other {n}", questions=["Q?"])
        make_groups(other, 2)
    with django_assert_max_num_queries(len(few)):
        response = mod_client.get("/moderate/")
    assert response.status_code == 200
    assert b"Transport" in response.content
    assert detail_url(deliberation).encode() in response.content


def test_detail_shows_the_absolute_join_link_and_settings(mod_client, deliberation):
    response = mod_client.get(detail_url(deliberation))
    assert response.status_code == 200
    html = response.content.decode()
    assert f'value="http://testserver/j/{deliberation.public_id}/"' in html
    assert 'data-copy="join-url"' in html
    assert "Should buses be free?" in html
    assert "No groups yet" in html


def test_unknown_deliberation_is_404(mod_client):
    response = mod_client.get("/moderate/d/00000000-0000-0000-0000-000000000000/")
    assert response.status_code == 404


def make_groups(deliberation, count, *, start=1):
    question = deliberation.question_links.get().question
    now = timezone.now()
    for number in range(start, start + count):
        group = Group.objects.create(
            deliberation=deliberation, number=number, status=Group.Status.ACTIVE
        )
        members = [
            Participant.objects.create(
                deliberation=deliberation,
                group=group,
                seat=seat,
                status=Participant.Status.DROPPED if seat == 4 else Participant.Status.ACTIVE,
            )
            for seat in range(5)
        ]
        round_ = Round.objects.create(
            group=group, question=question, position=0, status=Round.Status.ACTIVE
        )
        iteration = Iteration.objects.create(
            round=round_, index=0, deadline=now + timedelta(minutes=5)
        )
        for member in members[:2]:
            Opinion.objects.create(iteration=iteration, participant=member, text="My view.")


def test_overview_reports_each_groups_phase(mod_client, deliberation):
    make_groups(deliberation, 2)
    response = mod_client.get(detail_url(deliberation))
    groups = response.context["groups"]
    assert [g.number for g in groups] == [1, 2]
    first = groups[0]
    assert (first.member_count, first.present_count) == (5, 4)
    assert first.question == "Should buses be free?"
    assert (first.iteration_index, first.state, first.done_count) == (0, "collecting", 2)
    assert "2 of 4 written" in response.content.decode()


def test_groups_fragment_for_htmx_is_only_the_table(mod_client, deliberation):
    make_groups(deliberation, 1)
    response = mod_client.get(fragment_url(deliberation), headers={"HX-Request": "true"})
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<section id="groups"')
    assert "<table>" in html
    assert "<html" not in html and "Invitation link" not in html
    assert 'hx-trigger="every 3s"' in html


def test_groups_fragment_without_htmx_is_the_full_page(mod_client, deliberation):
    response = mod_client.get(fragment_url(deliberation))
    html = response.content.decode()
    assert "<html" in html and "Invitation link" in html


@pytest.mark.parametrize("url_for", [detail_url, fragment_url])
def test_query_count_does_not_grow_with_the_number_of_groups(
    mod_client, deliberation, django_assert_max_num_queries, url_for
):
    headers = {"HX-Request": "true"} if url_for is fragment_url else {}
    make_groups(deliberation, 1)
    with CaptureQueriesContext(connection) as few:
        assert mod_client.get(url_for(deliberation), headers=headers).status_code == 200
    make_groups(deliberation, 8, start=2)
    with django_assert_max_num_queries(len(few)):
        response = mod_client.get(url_for(deliberation), headers=headers)
    assert len(response.context["groups"]) == 9


def test_seed_demo_is_idempotent_and_prints_the_links(monkeypatch):
    monkeypatch.delenv("DEMO_MODERATOR_PASSWORD", raising=False)
    outputs = []
    for _ in range(2):
        out, err = StringIO(), StringIO()
        call_command("seed_demo", stdout=out, stderr=err)
        outputs.append((out.getvalue(), err.getvalue()))
    deliberation = Deliberation.objects.get(title="Demo deliberation")
    study = Deliberation.objects.get(title__startswith="Demo study")
    german = Deliberation.objects.get(language="de")
    assert Deliberation.objects.count() == 3
    assert german.fill_with_bots and german.consent_text.startswith("Dies ist eine")
    assert german.question_links.get().question.text.startswith("Sollen Innenstädte")
    assert (study.critique_iterations, study.question_links.count()) == (1, 2)
    assert sorted(study.conditions.values_list("name", flat=True)) == [
        "mediator-only",
        "with-best-opinion",
    ]
    assert deliberation.fill_with_bots
    assert (deliberation.group_size, deliberation.min_group_size) == (5, 3)
    assert deliberation.question_links.count() == 1
    assert Question.objects.filter(source="demo").count() >= 4
    for out, err in outputs:
        assert f"http://127.0.0.1:8000/j/{deliberation.public_id}/" in out
        assert f"http://127.0.0.1:8000/j/{study.public_id}/" in out
        assert f"German demo (Deutsch): http://127.0.0.1:8000/j/{german.public_id}/" in out
        assert "http://127.0.0.1:8000/accounts/login/" in out
        assert "username: moderator" in out
        assert "password: common-ground-demo" in out
        assert "only acceptable for this local demo" in err
        # The three example statements, generated by the real extractive generator.
        examples = dict(
            line.strip().split(": ", 1)
            for line in out.splitlines()
            if line.startswith(("  split group:", "  agreeing group:", "  after the critiques:"))
        )
        assert set(examples) == {"split group", "agreeing group", "after the critiques"}
        assert examples["split group"].startswith("We are split evenly")
        assert "they also work shifts" in examples["split group"]  # reported, not "I"
        assert "a point not all of us accept" in examples["after the critiques"]
    client = Client()
    assert client.login(request=HttpRequest(), username="moderator", password="common-ground-demo")
    assert client.get("/moderate/").status_code == 200


def test_seed_demo_prints_the_address_the_server_will_use():
    out = StringIO()
    call_command("seed_demo", addr="0.0.0.0:8123", stdout=out, stderr=StringIO())
    study = Deliberation.objects.get(title__startswith="Demo study")
    assert f"http://127.0.0.1:8123/j/{study.public_id}/" in out.getvalue()
    assert "http://127.0.0.1:8123/accounts/login/" in out.getvalue()
    assert ":8000" not in out.getvalue()
    with pytest.raises(CommandError):
        call_command("seed_demo", addr="localhost:web", stdout=StringIO(), stderr=StringIO())


def test_seed_demo_takes_the_password_from_the_environment(monkeypatch):
    monkeypatch.setenv("DEMO_MODERATOR_PASSWORD", "a-private-demo-pass")
    out, err = StringIO(), StringIO()
    call_command("seed_demo", stdout=out, stderr=err)
    assert "password: a-private-demo-pass" in out.getvalue()
    assert "WARNING" not in err.getvalue()
    assert Client().login(
        request=HttpRequest(), username="moderator", password="a-private-demo-pass"
    )


def test_create_moderator_command_grants_the_permission(django_user_model):
    out = StringIO()
    call_command("create_moderator", "ana", password="ana-long-password", stdout=out)
    assert "Created moderator 'ana'" in out.getvalue()
    assert django_user_model.objects.get(username="ana").has_perm("deliberation.moderate")


def test_detail_says_which_backends_mediate_and_what_the_embedded_ones_are(
    mod_client, deliberation, settings
):
    settings.INFERENCE_ENV = {}
    html = mod_client.get(detail_url(deliberation)).content.decode()
    assert "extractive" in html
    assert "Not a language model" in html
    assert "all-MiniLM-L6-v2" in html

    settings.INFERENCE_ENV = {"GENERATOR_BACKEND": "vllm", "GENERATOR_MODEL": "llama-70b"}
    html = mod_client.get(detail_url(deliberation)).content.decode()
    assert "vllm · llama-70b" in html
    assert "Not a language model" not in html


def group_page_url(d, number=1, name="group_detail"):
    return reverse(f"moderator:{name}", args=[d.public_id, number])


def test_groups_table_shows_deadlines_who_is_done_and_the_mediation(mod_client, deliberation):
    make_groups(deliberation, 3)
    first, second, third = (
        Iteration.objects.get(round__group__number=n, round__group__deliberation=deliberation)
        for n in (1, 2, 3)
    )
    Iteration.objects.filter(pk=second.pk).update(deadline=timezone.now() - timedelta(seconds=90))
    Iteration.objects.filter(pk=third.pk).update(
        state=Iteration.State.FAILED,
        failure_reason="BackendUnavailable: the generator is down",
        mediation_attempts=2,
    )

    html = mod_client.get(detail_url(deliberation)).content.decode()

    assert ">in 5 min</time>" in html  # to the nearest minute
    assert 'class="overdue">overdue by 2 min</time>' in html
    assert "failed after 2 attempts: BackendUnavailable: the generator is down" in html
    # One dot per seat, each saying what it means.
    assert html.count(">Seat 1: done</span>") == 2  # groups 1 and 2 collect; group 3 failed
    assert html.count(">Seat 3: not done yet</span>") == 2
    assert html.count(">Seat 5: dropped out</span>") == 3
    assert html.count(">Seat 1: active</span>") == 1


def test_group_page_has_a_live_panel_with_each_member_and_the_actions_that_apply(
    mod_client, deliberation
):
    make_groups(deliberation, 1)
    member = Participant.objects.get(group__number=1, seat=1)
    Participant.objects.filter(pk=member.pk).update(
        last_seen_at=timezone.now() - timedelta(minutes=2)
    )

    response = mod_client.get(group_page_url(deliberation))

    html = response.content.decode()
    assert (
        'id="now"' in html
        and 'hx-trigger="every 3s" hx-swap="outerHTML" data-pause-while-focused' in html
    )
    assert "2 of 4 written" in html
    assert "2\xa0minutes ago" in html and "never" in html
    assert html.count("<strong>done</strong>") == 2 and html.count("not done yet") == 2
    assert "Dropped out" in html
    assert "Extend the deadline" in html and "End the group…" in html
    assert "Retry the mediation" not in html  # nothing has failed
    assert "No moderator action on this group yet" in html

    Iteration.objects.filter(round__group__number=1).update(state=Iteration.State.FAILED)
    html = mod_client.get(group_page_url(deliberation)).content.decode()
    assert "Retry the mediation" in html and "Extend the deadline" not in html

    Group.objects.filter(number=1).update(status=Group.Status.ENDED, ended_reason="Stopped.")
    html = mod_client.get(group_page_url(deliberation)).content.decode()
    assert "No action applies now: the group has finished" in html
    assert "Ended by a moderator" in html and "Stopped." in html


def test_group_now_for_htmx_is_only_the_panel(mod_client, deliberation):
    make_groups(deliberation, 1)
    url = group_page_url(deliberation, name="group_now")

    html = mod_client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert html.lstrip().startswith('<section id="now"')
    assert "<html" not in html and "What the mediator did" not in html
    assert "Seat" in html

    html = mod_client.get(url).content.decode()
    assert "<html" in html and "What the mediator did" in html


@pytest.mark.parametrize("htmx", [False, True])
def test_group_page_query_count_does_not_grow_with_members_texts_or_the_audit_log(
    mod_client, deliberation, moderator, django_assert_max_num_queries, htmx
):
    from deliberation.services.moderation import iteration_extend_deadline, member_text_hide

    url = group_page_url(deliberation, name="group_now" if htmx else "group_detail")
    headers = {"HX-Request": "true"} if htmx else {}
    make_groups(deliberation, 1)
    with CaptureQueriesContext(connection) as few:
        assert mod_client.get(url, headers=headers).status_code == 200

    group = Group.objects.get(deliberation=deliberation, number=1)
    iteration = Iteration.objects.get(round__group=group)
    for seat in range(5, 15):
        member = Participant.objects.create(
            deliberation=deliberation, group=group, seat=seat, status=Participant.Status.ACTIVE
        )
        Opinion.objects.create(iteration=iteration, participant=member, text="Another view.")
    for opinion in Opinion.objects.filter(iteration=iteration)[:3]:
        member_text_hide(text=opinion, actor=moderator, reason="Off topic.")
    iteration_extend_deadline(iteration=iteration, actor=moderator, seconds=300)

    with django_assert_max_num_queries(len(few)):
        response = mod_client.get(url, headers=headers)
    html = response.content.decode()
    assert "12 of 14 written" in html
    if not htmx:
        assert html.count("Hid a text") == 3 and "Extended a deadline" in html


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0 s"),
        (59, "59 s"),
        (60, "1 min"),
        (89, "1 min"),
        (90, "2 min"),
        (3599, "1 h"),
        (3900, "1 h 5 min"),
        (86400, "24 h"),
    ],
)
def test_relative_durations_read_to_the_nearest_minute(seconds, text):
    from deliberation.selectors.moderator import _duration

    assert _duration(seconds) == text


def test_round_numbering_counts_the_questions_set_up(make_group, mod_client):
    deliberation, members = make_group(
        3,
        questions=[
            "Should towns close their centres to cars?",
            "Should libraries open on Sundays?",
        ],
    )
    group = deliberation.groups.get()
    assert group.rounds.count() == 1  # the second round is made when the first ends
    html = mod_client.get(f"/moderate/d/{deliberation.public_id}/").content.decode()
    assert "1 of 2:" in html and "1 of 1" not in html
    html = mod_client.get(
        f"/moderate/d/{deliberation.public_id}/g/{group.number}/"
    ).content.decode()
    assert "1 of 2:" in html


def test_deliberation_page_shows_its_whole_set_up(mod_client, moderator):
    deliberation = deliberation_create(
        created_by=moderator,
        title="Full set-up",
        questions=["First question?", "Second question?"],
        group_size=4,
        min_group_size=3,
        panel="prolific",
        completion_code="C0MPL3TE",
        release_code="REL3ASE",
        pool_wait_seconds=600,
        dropout_seconds=90,
        exclusion_count=1,
        conditions=[
            {
                "name": "no-rerank",
                "description": "One candidate.",
                "mediation_config": {"n_candidates": 1, "aggregation": "schulze"},
            },
            {"name": "best", "comparisons": ["best_opinion"]},
            {"name": "left-out", "exclusion": True},
        ],
        survey_items=[
            {"key": "fair", "text": "Was it fair?", "kind": "likert", "required": True},
            {"key": "why", "text": "Why?", "kind": "text", "required": False},
        ],
    )
    html = mod_client.get(f"/moderate/d/{deliberation.public_id}/").content.decode()
    assert html.index("First question?") < html.index("Second question?")
    for shown in (
        "no-rerank</strong>: One candidate.",
        "aggregation = schulze; n_candidates = 1",
        "Shown beside the winner: best_opinion",
        "Exclusion: 1 member(s) left out",
        'Was it fair? <span class="hint">(fair, likert, required)',
        'Why? <span class="hint">(why, text, optional)',
        "C0MPL3TE",
        "REL3ASE",
        "after 10 min",
        "after 90 s unseen",
        "Prolific",
    ):
        assert shown in html, shown
