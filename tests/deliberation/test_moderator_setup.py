"""The create page sets up a whole study: several rounds, critique iterations, the survey, the
panel and conditions, through the browser's plain form (the test client posts what a browser
without JavaScript posts)."""

import re

import pytest
from django.urls import reverse

from deliberation.models import Condition, Deliberation, Question
from deliberation.services.deliberations import question_create

pytestmark = pytest.mark.django_db

CREATE_URL = "/moderate/new/"
PICKER_URL = "/moderate/new/questions/"


def study_form(**overrides):
    """A two-round, two-iteration study with an exclusion condition and a no-reranking
    condition that shows the best opinion and a baseline beside the winner."""
    data = {
        "title": "Transport study",
        "description": "Pilot with two conditions.",
        "question_lines": "Should buses be free?\n",
        "existing_question_ids": "",
        "group_size": "5",
        "min_group_size": "4",
        "n_candidates": "16",
        "aggregation": "welfare",
        "alpha": "1",
        "critique_iterations": "2",
        "opinion_minutes": "8",
        "critique_minutes": "6",
        "rating_minutes": "5",
        "pool_wait_minutes": "12",
        "dropout_seconds": "90",
        "position_ratings": "on",
        "survey_text": "helpful | likert | required | Did the statements help?\n"
        "comment | text | optional | Anything else?",
        "panel": "prolific",
        "completion_code": "C0MPL3TE",
        "completion_url": "https://app.prolific.com/submissions/complete?cc={code}",
        "release_code": "RELEASED",
        "exclusion_count": "1",
        "condition-TOTAL_FORMS": "3",
        "condition-INITIAL_FORMS": "0",
        "condition-0-name": "exclusion",
        "condition-0-description": "One member left out per round.",
        "condition-0-exclusion": "on",
        "condition-1-name": "no-rerank",
        "condition-1-n_candidates": "1",
        "condition-1-aggregation": "schulze",
        "condition-1-alpha": "",
        "condition-1-comparisons": ["best_opinion", "baseline"],
        "condition-1-baseline_generator_model": "plain-llm",
        "action": "create",
    }
    data.update(overrides)
    return data


def test_the_page_offers_every_setting_and_two_empty_condition_rows(mod_client):
    html = mod_client.get(CREATE_URL).content.decode()
    for name in (
        "question_lines",
        "question_query",
        "critique_iterations",
        "pool_wait_minutes",
        "dropout_seconds",
        "position_ratings",
        "survey_text",
        "panel",
        "completion_code",
        "completion_url",
        "release_code",
        "exclusion_count",
        "fill_with_bots",
        "condition-0-name",
        "condition-1-comparisons",
        "condition-1-exclusion",
    ):
        assert f'name="{name}"' in html, name
    assert 'name="condition-2-name"' not in html
    assert f'hx-get="{PICKER_URL}"' in html
    assert "helpful | likert | required | How much did the group statements help" in html
    assert "<legend>Condition 1</legend>" in html


def test_a_two_round_two_iteration_study_with_two_conditions_is_stored(mod_client, moderator):
    saved = question_create(text="Should libraries open on Sundays?", topic="culture")
    response = mod_client.post(CREATE_URL, study_form(picked_questions=[str(saved.pk)]))
    deliberation = Deliberation.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("moderator:deliberation_detail", args=[deliberation.public_id])
    assert deliberation.created_by == moderator
    assert deliberation.critique_iterations == 2
    assert list(
        deliberation.question_links.order_by("position").values_list("question__text", flat=True)
    ) == ["Should buses be free?", "Should libraries open on Sundays?"]
    assert (deliberation.group_size, deliberation.min_group_size) == (5, 4)
    assert (
        deliberation.opinion_seconds,
        deliberation.critique_seconds,
        deliberation.rating_seconds,
        deliberation.pool_wait_seconds,
        deliberation.dropout_seconds,
    ) == (480, 360, 300, 720, 90)
    assert deliberation.position_ratings is True
    assert deliberation.survey_items == [
        {"key": "helpful", "kind": "likert", "required": True, "text": "Did the statements help?"},
        {"key": "comment", "kind": "text", "required": False, "text": "Anything else?"},
    ]
    assert (deliberation.panel, deliberation.completion_code, deliberation.release_code) == (
        "prolific",
        "C0MPL3TE",
        "RELEASED",
    )
    assert deliberation.completion_url.endswith("?cc={code}")
    assert deliberation.exclusion_count == 1
    conditions = list(
        Condition.objects.filter(deliberation=deliberation)
        .order_by("id")
        .values(
            "name",
            "description",
            "mediation_config",
            "comparisons",
            "baseline_config",
            "exclusion",
        )
    )
    assert conditions == [
        {
            "name": "exclusion",
            "description": "One member left out per round.",
            "mediation_config": {},
            "comparisons": [],
            "baseline_config": {},
            "exclusion": True,
        },
        {
            "name": "no-rerank",
            "description": "",
            "mediation_config": {"n_candidates": 1, "aggregation": "schulze"},
            "comparisons": ["best_opinion", "baseline"],
            "baseline_config": {"generator": {"model": "plain-llm"}},
            "exclusion": False,
        },
    ]


def test_saved_questions_can_come_first_and_by_typed_id(mod_client):
    first = question_create(text="Should libraries open on Sundays?")
    second = question_create(text="Should parks close at night?")
    mod_client.post(
        CREATE_URL,
        study_form(
            picked_questions=[str(second.pk)],
            existing_question_ids=str(first.pk),
            saved_first="on",
        ),
    )
    deliberation = Deliberation.objects.get()
    assert list(
        deliberation.question_links.order_by("position").values_list("question__text", flat=True)
    ) == [
        "Should parks close at night?",
        "Should libraries open on Sundays?",
        "Should buses be free?",
    ]


def test_a_non_moderator_is_refused_and_nothing_is_created(client, django_user_model):
    """A logged-in user without the moderate permission posting a valid study, and asking the
    picker, gets 403; an anonymous visitor is sent to log in."""
    question_create(text="Should buses be free?")
    anonymous = client.post(CREATE_URL, study_form())
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/accounts/login/")
    client.force_login(django_user_model.objects.create_user("someone", password="x-long-pass"))
    assert client.get(CREATE_URL).status_code == 403
    assert client.post(CREATE_URL, study_form()).status_code == 403
    assert (
        client.get(PICKER_URL, {"question_query": "buses"}, HTTP_HX_REQUEST="true").status_code
        == 403
    )
    assert Deliberation.objects.count() == 0
    assert Condition.objects.count() == 0


def test_errors_show_next_to_their_field_and_keep_everything_typed(mod_client):
    """Bad input in a condition row (N = 0, alpha "lots") and in the panel (a javascript: URL):
    the page comes back with each error next to its field, every value as typed, nothing made."""
    response = mod_client.post(
        CREATE_URL,
        study_form(
            **{
                "condition-1-n_candidates": "0",
                "condition-0-alpha": "lots",
                "completion_url": "javascript:alert(1)",
            }
        ),
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "The deliberation was not created" in html
    assert 'id="id_condition-1-n_candidates_error"' in html
    assert 'id="id_condition-0-alpha_error"' in html
    assert "Alpha is a number of 0 or more" in html
    # The form checks the row's shape first; the URL rule is the service's and comes next.
    assert Deliberation.objects.count() == 0
    for typed in ("Transport study", "Should buses be free?", 'value="no-rerank"', "plain-llm"):
        assert typed in html
    assert 'value="lots"' in html

    response = mod_client.post(CREATE_URL, study_form(completion_url="javascript:alert(1)"))
    html = response.content.decode()
    assert 'id="id_completion_url_error"' in html
    assert "http:// or https://" in html
    assert 'value="javascript:alert(1)"' in html
    assert Deliberation.objects.count() == 0
    assert Question.objects.count() == 0
    assert Condition.objects.count() == 0


def test_two_conditions_with_one_name_are_refused_on_the_second_row(mod_client):
    """The formset checks across its rows: a name used twice is refused on the second row,
    even while another field's error keeps the service from being asked (the service refuses
    it too, for its other callers)."""
    response = mod_client.post(CREATE_URL, study_form(**{"condition-1-name": "exclusion"}))
    assert response.status_code == 400
    form_row = response.context["setup"].conditions[1]
    assert "names must be unique" in " ".join(form_row.errors["name"])
    assert 'id="id_condition-1-name_error"' in response.content.decode()

    response = mod_client.post(
        CREATE_URL, study_form(title="", **{"condition-1-name": "exclusion"})
    )
    assert "names must be unique" in " ".join(
        response.context["setup"].conditions[1].errors["name"]
    )
    assert response.context["setup"].error_count == 2
    assert Deliberation.objects.count() == 0


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"condition-0-name": "Has Spaces"}, "name", "lower-case letters"),
        ({"condition-0-name": "", "condition-0-description": "x"}, "name", "Give the condition"),
        ({"condition-0-comparisons": ["human_mediator"]}, "comparisons", "valid choice"),
        ({"condition-0-aggregation": "borda"}, "aggregation", "valid choice"),
        ({"condition-0-n_candidates": "65"}, "n_candidates", "less than or equal to 64"),
        ({"condition-0-n_candidates": "many"}, "n_candidates", "whole number"),
        ({"condition-0-generator_backend": "gpt"}, "generator_backend", "valid choice"),
        (
            {"condition-0-baseline_n_candidates": "2"},
            None,
            '"baseline" comparison',
        ),
    ],
)
def test_bad_condition_rows_are_refused_on_their_row(mod_client, overrides, field, message):
    """Bad rows: a name that is not a slug, a row without a name, an unknown comparison,
    aggregation or backend, N out of range or not a number, baseline settings without the
    baseline comparison. The error is on the row (and field); nothing is created."""
    response = mod_client.post(CREATE_URL, study_form(**overrides))
    assert response.status_code == 400
    row = response.context["setup"].conditions[0]
    errors = row.errors.get(field or "__all__", [])
    assert message in " ".join(errors), row.errors
    assert Deliberation.objects.count() == 0


@pytest.mark.parametrize(
    ("survey", "message"),
    [
        ("helpful | likert | Did it help?", "four parts"),
        ("helpful | slider | required | Did it help?", "likert or text"),
        ("helpful | likert | maybe | Did it help?", "required or optional"),
        ("Helpful | likert | required | Did it help?", "lower-case"),
        ("a | text | optional | One\na | text | optional | Two", "used twice"),
    ],
)
def test_a_bad_survey_line_is_shown_on_the_survey_field(mod_client, survey, message):
    """Bad survey text: too few parts, unknown kind, neither required nor optional, a key that
    is not a lower-case slug, a key twice."""
    response = mod_client.post(CREATE_URL, study_form(survey_text=survey))
    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors["survey_text"])
    assert Deliberation.objects.count() == 0


def test_an_empty_survey_asks_nothing(mod_client):
    mod_client.post(CREATE_URL, study_form(survey_text="  \n"))
    assert Deliberation.objects.get().survey_items == []


def test_blank_condition_rows_are_ignored(mod_client):
    data = {k: v for k, v in study_form().items() if not k.startswith("condition-")}
    data.update({"condition-TOTAL_FORMS": "5", "condition-INITIAL_FORMS": "0"})
    data.update({f"condition-{i}-name": "" for i in range(5)})
    response = mod_client.post(CREATE_URL, data)
    assert response.status_code == 302
    assert Condition.objects.count() == 0


def test_adding_a_condition_row_round_trips_without_losing_or_creating_anything(mod_client):
    """Without JavaScript, "Add another condition" posts the form; the page comes back with one
    more row, focused, everything typed still there, and no error shown yet."""
    response = mod_client.post(
        CREATE_URL,
        study_form(action="add_condition", title="", **{"condition-1-n_candidates": "0"}),
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert Deliberation.objects.count() == 0
    assert "was not created" not in html
    assert 'class="errorlist"' not in html
    assert 'name="condition-3-name"' in html
    assert 'name="condition-4-name"' not in html
    assert 'name="condition-TOTAL_FORMS" value="4"' in html
    assert '<input type="text" name="condition-3-name" maxlength="64" autofocus' in html
    for typed in ('value="exclusion"', 'value="no-rerank"', "Should buses be free?", "C0MPL3TE"):
        assert typed in html
    assert 'value="best_opinion" id="id_condition-1-comparisons_0" checked' in html
    assert 'id="id_condition-0-exclusion" checked' in html


def test_search_without_javascript_lists_saved_questions_to_tick(mod_client):
    picked = question_create(text="Should libraries open on Sundays?", topic="culture")
    question_create(text="Should museums be free?", topic="culture")
    question_create(text="Should parks close at night?", topic="environment")
    response = mod_client.post(
        CREATE_URL,
        study_form(action="search", question_query="culture", picked_questions=[str(picked.pk)]),
    )
    assert response.status_code == 200
    picker = response.context["picker"]
    assert [q.text for q in picker.picked] == ["Should libraries open on Sundays?"]
    assert [q.text for q in picker.results] == ["Should museums be free?"]
    html = response.content.decode()
    assert f'value="{picked.pk}" id="picked-{picked.pk}" checked' in html
    assert "was not created" not in html
    assert Deliberation.objects.count() == 0


def test_the_htmx_picker_returns_only_the_list(mod_client):
    kept = question_create(text="Should buses be free?", topic="transport")
    question_create(text="Should trams run all night?", topic="Transport")
    question_create(text="Should libraries open on Sundays?", topic="culture")
    response = mod_client.get(
        PICKER_URL,
        {"question_query": "TRANSPORT", "picked_questions": [str(kept.pk), "x", "999999"]},
        HTTP_HX_REQUEST="true",
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "<form" not in html and "<html" not in html
    assert f'id="picked-{kept.pk}" checked' in html
    assert "Should trams run all night?" in html
    assert "libraries" not in html
    assert html.count('name="picked_questions"') == 2
    assert mod_client.get(PICKER_URL).status_code == 302


def test_a_picked_question_that_no_longer_exists_is_reported(mod_client):
    response = mod_client.post(CREATE_URL, study_form(picked_questions=["999999"]))
    assert response.status_code == 400
    assert "No question with id 999999" in " ".join(
        response.context["form"].errors["picked_questions"]
    )
    assert Deliberation.objects.count() == 0


def test_a_double_submission_creates_one_deliberation(mod_client):
    """The same form sent twice (a double click, a resent POST) creates the deliberation once and
    both answers lead to it; a page redrawn after an error keeps its submission id; a forged,
    malformed submission id is replaced, never trusted."""
    page = mod_client.get(CREATE_URL).content.decode()
    submission = re.search(r'name="submission" value="([0-9a-f]{32})"', page).group(1)
    first = mod_client.post(CREATE_URL, study_form(submission=submission))
    second = mod_client.post(CREATE_URL, study_form(submission=submission))
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert Deliberation.objects.count() == 1

    refused = mod_client.post(CREATE_URL, study_form(title="", submission="b" * 32))
    assert refused.status_code == 400
    assert 'name="submission" value="' + "b" * 32 + '"' in refused.content.decode()
    forged = mod_client.post(CREATE_URL, study_form(title="", submission="x' onload=1"))
    assert "onload" not in forged.content.decode().split('name="submission"')[1][:60]
    assert Deliberation.objects.count() == 1


def test_removing_a_condition_row_round_trips_without_losing_or_creating_anything(mod_client):
    """Without JavaScript, a row's "Remove" posts the form; the page comes back without that
    row, the rows after it moved up with what was typed in them, the next row focused."""
    response = mod_client.post(CREATE_URL, study_form(action="remove_condition-0", title=""))
    assert response.status_code == 200
    html = response.content.decode()
    assert Deliberation.objects.count() == 0
    assert 'class="errorlist"' not in html
    assert 'name="condition-TOTAL_FORMS" value="2"' in html
    assert 'value="exclusion"' not in html
    assert (
        '<input type="text" name="condition-0-name" value="no-rerank" maxlength="64" autofocus'
        in html
    )
    assert 'value="best_opinion" id="id_condition-0-comparisons_0" checked' in html
    assert "Condition 1 removed" in html
    assert 'name="condition-2-name"' not in html


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"condition-TOTAL_FORMS": "9"}, "at most 8 conditions"),
        ({"condition-TOTAL_FORMS": None, "condition-INITIAL_FORMS": None}, "ManagementForm"),
    ],
)
def test_a_tampered_row_count_is_refused_and_nothing_is_created(mod_client, overrides, message):
    """More rows than a deliberation can have, or condition rows without the formset's
    management form (a forged post): refused with the reason over the rows, nothing made."""
    data = {k: v for k, v in {**study_form(), **overrides}.items() if v is not None}
    response = mod_client.post(CREATE_URL, data)
    assert response.status_code == 400
    assert message in " ".join(response.context["setup"].conditions.non_form_errors())
    assert 'id="conditions_error"' in response.content.decode()
    assert Deliberation.objects.count() == 0
