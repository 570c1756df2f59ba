import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from deliberation.errors import DomainError
from deliberation.models import AuditLog, Condition, Deliberation, Question
from deliberation.services.deliberations import (
    DEFAULT_CONSENT_TEXT,
    DEFAULT_CONSENT_VERSION,
    deliberation_create,
    deliberation_create_once,
    deliberation_set_status,
    question_create,
)
from deliberation.services.moderators import moderator_ensure
from deliberation.services.study_settings import ConditionError
from inference.config import MediationConfig

pytestmark = pytest.mark.django_db


def create(**overrides):
    kwargs = {"created_by": None, "title": "Bus fares", "questions": ["Should buses be free?"]}
    kwargs.update(overrides)
    return deliberation_create(**kwargs)


def test_question_create_trims_and_stores_positions():
    question = question_create(
        text="  Should the school week be four days?  ",
        affirming_statement="Yes, four days.",
        negating_statement="No, keep five.",
        topic="education",
    )
    question.refresh_from_db()
    assert question.text == "Should the school week be four days?"
    assert question.source == "manual"
    assert question.external_id is None
    assert (question.affirming_statement, question.negating_statement, question.topic) == (
        "Yes, four days.",
        "No, keep five.",
        "education",
    )


@pytest.mark.parametrize("text", ["", "   \n ", "x" * 2001])
def test_question_create_refuses_empty_or_overlong_text(text):
    with pytest.raises(DomainError) as exc:
        question_create(text=text)
    assert exc.value.code == "question_text"
    assert Question.objects.count() == 0


def test_question_create_accepts_exactly_2000_characters():
    assert len(question_create(text="y" * 2000).text) == 2000


def test_question_create_refuses_a_duplicate_external_id():
    question_create(text="First", external_id="q-1")
    with pytest.raises(DomainError, match="already exists"):
        question_create(text="Second", external_id="q-1")
    assert list(Question.objects.values_list("text", flat=True)) == ["First"]


def test_deliberation_create_links_questions_in_order_and_stores_mediation_overrides():
    saved = question_create(text="Should libraries open on Sundays?")
    deliberation = create(
        questions=[saved, "Should buses be free?"],
        group_size=4,
        min_group_size=3,
        n_candidates=8,
        aggregation="schulze",
        alpha=0.5,
        critique_iterations=1,
        opinion_seconds=300,
        rating_seconds=240,
        fill_with_bots=True,
    )
    deliberation.refresh_from_db()
    links = list(deliberation.question_links.select_related("question"))
    assert [(link.position, link.question.text) for link in links] == [
        (0, "Should libraries open on Sundays?"),
        (1, "Should buses be free?"),
    ]
    assert deliberation.status == Deliberation.Status.OPEN
    assert deliberation.mediation_config == {
        "n_candidates": 8,
        "aggregation": "schulze",
        "alpha": 0.5,
    }
    assert (deliberation.group_size, deliberation.min_group_size) == (4, 3)
    assert deliberation.critique_iterations == 1
    assert deliberation.critique_seconds == 300
    assert deliberation.fill_with_bots is True
    assert deliberation.consent_text == DEFAULT_CONSENT_TEXT
    assert deliberation.consent_version == DEFAULT_CONSENT_VERSION


def test_mediation_overrides_are_readable_by_the_inference_config():
    deliberation = create(n_candidates=12, aggregation="welfare", alpha=float("inf"))
    merged = MediationConfig().merged(deliberation.mediation_config)
    assert merged.n_candidates == 12
    assert merged.alpha == float("inf")


def test_the_same_question_twice_is_linked_once():
    saved = question_create(text="Should buses be free?")
    deliberation = create(questions=[saved, saved])
    assert deliberation.question_links.count() == 1


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"title": "  "}, "title"),
        ({"questions": []}, "questions"),
        ({"questions": ["ok", "z" * 2001]}, "question_text"),
        ({"group_size": 0}, "group_size"),
        ({"group_size": 21}, "group_size"),
        ({"min_group_size": 0}, "min_group_size"),
        ({"group_size": 3, "min_group_size": 4}, "min_group_size"),
        ({"n_candidates": 0}, "n_candidates"),
        ({"n_candidates": 65}, "n_candidates"),
        ({"aggregation": "borda"}, "aggregation"),
        ({"alpha": -0.1}, "alpha"),
        ({"alpha": float("nan")}, "alpha"),
        ({"critique_iterations": -1}, "critique_iterations"),
        ({"opinion_seconds": 5}, "opinion_seconds"),
        ({"rating_seconds": 10**7}, "rating_seconds"),
        ({"consent_text": ""}, "consent_text"),
    ],
)
def test_deliberation_create_refuses_invalid_settings_and_writes_nothing(overrides, code):
    with pytest.raises(DomainError) as exc:
        create(**overrides)
    assert exc.value.code == code
    assert exc.value.message
    assert Deliberation.objects.count() == 0
    assert Question.objects.count() == 0


def test_min_group_size_error_names_both_numbers():
    with pytest.raises(DomainError, match=r"minimum group size \(5\).*group size \(3\)"):
        create(group_size=3, min_group_size=5)


def test_typical_and_extreme_group_sizes_are_accepted():
    assert create(group_size=3, min_group_size=3).group_size == 3
    assert create(group_size=20, min_group_size=1).group_size == 20


def test_moderator_ensure_grants_the_permission_and_is_repeatable():
    user, created = moderator_ensure(username="mod", password="a-long-enough-pass")
    assert created
    user, created = moderator_ensure(username="mod", password="another-long-pass")
    assert not created
    user.refresh_from_db()
    assert user.has_perm("deliberation.moderate")
    assert user.check_password("another-long-pass")


def test_moderator_ensure_refuses_a_weak_password():
    with pytest.raises(DomainError, match="too short"):
        moderator_ensure(username="mod", password="abc")


# --- Conditions, survey, panel and the other study settings ---------------------------------

TWO_ARMS = [
    {
        "name": "exclusion",
        "description": "Mediates from all but one member.",
        "exclusion": True,
    },
    {
        "name": "no-rerank",
        "mediation_config": {"n_candidates": 1, "aggregation": "schulze"},
        "comparisons": ["baseline", "best_opinion"],
        "baseline_config": {"generator": {"model": "plain-llm"}},
    },
]


def study(**overrides):
    kwargs = {
        "questions": ["Should buses be free?", "Should libraries open on Sundays?"],
        "group_size": 5,
        "min_group_size": 4,
        "critique_iterations": 2,
        "conditions": TWO_ARMS,
    }
    kwargs.update(overrides)
    return create(**kwargs)


def test_study_settings_and_conditions_are_stored():
    deliberation = study(
        pool_wait_seconds=300,
        dropout_seconds=90,
        position_ratings=False,
        survey_items=[{"key": "fair", "text": "Was it fair?", "kind": "likert", "required": True}],
        panel=Deliberation.Panel.PROLIFIC,
        completion_code="C1A2B3",
        completion_url="https://app.prolific.com/submissions/complete?cc={code}",
        release_code="WAITED",
        exclusion_count=2,
    )
    deliberation.refresh_from_db()
    assert deliberation.critique_iterations == 2
    assert deliberation.question_links.count() == 2
    assert (deliberation.pool_wait_seconds, deliberation.dropout_seconds) == (300, 90)
    assert deliberation.position_ratings is False
    assert deliberation.survey_items == [
        {"key": "fair", "text": "Was it fair?", "kind": "likert", "required": True}
    ]
    assert deliberation.panel == "prolific"
    assert deliberation.completion_code == "C1A2B3"
    assert deliberation.completion_url.endswith("cc={code}")
    assert deliberation.release_code == "WAITED"
    assert deliberation.exclusion_count == 2
    arms = list(deliberation.conditions.order_by("id").values())
    assert [
        (a["name"], a["exclusion"], a["comparisons"], a["mediation_config"], a["baseline_config"])
        for a in arms
    ] == [
        ("exclusion", True, [], {}, {}),
        (
            "no-rerank",
            False,
            ["best_opinion", "baseline"],
            {"n_candidates": 1, "aggregation": "schulze"},
            {"generator": {"model": "plain-llm"}},
        ),
    ]
    assert arms[0]["description"] == "Mediates from all but one member."


def test_defaults_keep_the_default_survey_and_no_conditions():
    deliberation = create()
    assert deliberation.survey_items == Deliberation._meta.get_field("survey_items").default()
    assert deliberation.conditions.count() == 0
    assert deliberation.panel == "none"
    assert deliberation.position_ratings is True


def test_an_empty_survey_asks_nothing():
    assert create(survey_items=[]).survey_items == []


def test_condition_overrides_are_what_the_mediator_reads():
    """The stored overrides merge, in the mediator's order, into the config a round runs with."""
    deliberation = study(
        conditions=[
            {
                "name": "rawls",
                "mediation_config": {
                    "alpha": float("inf"),
                    "generator": "fake",
                    "reward": {"backend": "fake", "model": "tiny"},
                },
            }
        ]
    )
    condition = deliberation.conditions.get()
    assert condition.mediation_config == {
        "alpha": "inf",
        "generator": {"backend": "fake"},
        "reward": {"backend": "fake", "model": "tiny"},
    }
    merged = (
        MediationConfig().merged(deliberation.mediation_config).merged(condition.mediation_config)
    )
    assert merged.alpha == float("inf")
    assert (merged.generator.backend, merged.reward.model) == ("fake", "tiny")
    assert merged.n_candidates == 16


def arm(**fields):
    return {"name": "arm", **fields}


@pytest.mark.parametrize(
    ("overrides", "code", "message"),
    [
        # Survey: wrong types, too long, too many, bad keys, unknown kind.
        ({"survey_items": "helpful | likert"}, "survey_items", "list of items"),
        ({"survey_items": ["helpful"]}, "survey_items", "Survey item 1"),
        (
            {"survey_items": [{"key": "Bad Key", "text": "T", "kind": "likert"}]},
            "survey_items",
            "lower-case",
        ),
        (
            {
                "survey_items": [
                    {"key": "a", "text": "One", "kind": "likert"},
                    {"key": "a", "text": "Two", "kind": "text"},
                ]
            },
            "survey_items",
            "used twice",
        ),
        (
            {"survey_items": [{"key": "a", "text": "x" * 501, "kind": "likert"}]},
            "survey_items",
            "at most 500",
        ),
        ({"survey_items": [{"key": "a", "text": " ", "kind": "likert"}]}, "survey_items", "empty"),
        (
            {"survey_items": [{"key": "a", "text": "T", "kind": "slider"}]},
            "survey_items",
            "likert, text",
        ),
        (
            {"survey_items": [{"key": "a", "text": "T", "kind": "text", "required": "yes"}]},
            "survey_items",
            "true or false",
        ),
        (
            {"survey_items": [{"key": f"k{i}", "text": "T", "kind": "text"} for i in range(11)]},
            "survey_items",
            "at most 10",
        ),
        # Panel and codes.
        ({"panel": "mechanical-turk"}, "panel", "prolific"),
        ({"panel": "prolific"}, "completion_code", "Prolific"),
        ({"completion_code": "has space"}, "completion_code", "letters, digits"),
        ({"release_code": "x" * 65}, "release_code", "at most 64"),
        ({"completion_url": "javascript:alert(1)"}, "completion_url", "http"),
        ({"completion_url": "ftp://example.org/done"}, "completion_url", "http"),
        ({"completion_url": "https://example.org/{pid}"}, "completion_url", "no other braces"),
        ({"completion_url": "https://example.org/?cc={code}"}, "completion_code", "{code}"),
        ({"completion_url": "https://e.org/" + "a" * 500}, "completion_url", "at most 500"),
        # Times and switches.
        ({"pool_wait_seconds": 5}, "pool_wait_seconds", "from 10 seconds"),
        ({"dropout_seconds": "120"}, "dropout_seconds", "whole number"),
        ({"position_ratings": "yes"}, "position_ratings", "on or off"),
        ({"exclusion_count": 20, "conditions": []}, "exclusion_count", "from 0 to 19"),
        # Conditions: shape, names, mediation overrides, comparisons, baseline, exclusion.
        ({"conditions": {"name": "a"}}, "conditions", "must be a list"),
        ({"conditions": [arm()] * 9}, "conditions", "at most 8"),
        ({"conditions": ["baseline"]}, "condition_fields", "Condition 1"),
        ({"conditions": [arm(colour="red")]}, "condition_fields", "colour"),
        ({"conditions": [{"name": "Has Spaces"}]}, "condition_name", "lower-case"),
        ({"conditions": [{"name": "x" * 65}]}, "condition_name", "1 to 64"),
        ({"conditions": [{"description": "no name"}]}, "condition_name", "lower-case"),
        ({"conditions": [arm(), arm()]}, "condition_name", "Condition 2 (arm)"),
        ({"conditions": [arm(description="d" * 501)]}, "condition_description", "at most 500"),
        ({"conditions": [arm(mediation_config=[1])]}, "condition_mediation_config", "object"),
        (
            {"conditions": [arm(mediation_config={"temperature": 0.7})]},
            "condition_mediation_config",
            "unknown mediation setting(s) temperature",
        ),
        (
            {"conditions": [arm(mediation_config={"seed": 3})]},
            "condition_mediation_config",
            "unknown mediation setting(s) seed",
        ),
        (
            {"conditions": [arm(mediation_config={"n_candidates": 0})]},
            "condition_mediation_config_n_candidates",
            "from 1 (no reranking) to 64",
        ),
        (
            {"conditions": [arm(mediation_config={"n_candidates": 65})]},
            "condition_mediation_config_n_candidates",
            "it is 65",
        ),
        (
            {"conditions": [arm(mediation_config={"n_candidates": "8"})]},
            "condition_mediation_config_n_candidates",
            "whole number",
        ),
        (
            {"conditions": [arm(mediation_config={"aggregation": "borda"})]},
            "condition_mediation_config_aggregation",
            "unknown aggregation 'borda'",
        ),
        (
            {"conditions": [arm(mediation_config={"alpha": -1})]},
            "condition_mediation_config_alpha",
            "0 or more",
        ),
        (
            {"conditions": [arm(mediation_config={"alpha": "lots"})]},
            "condition_mediation_config_alpha",
            "0 or more",
        ),
        (
            {"conditions": [arm(mediation_config={"generator": "gpt"})]},
            "condition_mediation_config_generator",
            "unknown generator backend 'gpt'",
        ),
        (
            {"conditions": [arm(mediation_config={"reward": {"options": {"api_key": "s"}}})]},
            "condition_mediation_config_reward",
            "unknown reward setting(s) options",
        ),
        (
            {"conditions": [arm(mediation_config={"generator": {"url": "file:///etc"}})]},
            "condition_mediation_config_generator",
            "http",
        ),
        (
            {"conditions": [arm(comparisons=["best_opinion", "human_mediator"])]},
            "condition_comparisons",
            "unknown comparison 'human_mediator'",
        ),
        ({"conditions": [arm(comparisons="baseline")]}, "condition_comparisons", "a list"),
        (
            {"conditions": [arm(baseline_config={"n_candidates": 1})]},
            "condition_baseline_config",
            '"baseline" comparison',
        ),
        (
            {"conditions": [arm(comparisons=["baseline"], baseline_config={"beam": 4})]},
            "condition_baseline_config",
            "unknown mediation setting(s) beam",
        ),
        ({"conditions": [arm(exclusion="yes")]}, "condition_exclusion", "true or false"),
        # The exclusion condition must leave someone in the smallest group.
        (
            {"conditions": [arm(exclusion=True)], "min_group_size": 3, "exclusion_count": 3},
            "exclusion_count",
            "from 1 to 2",
        ),
        (
            {"conditions": [arm(exclusion=True)], "exclusion_count": 0},
            "exclusion_count",
            "from 1 to",
        ),
        (
            {"conditions": [arm(exclusion=True)], "group_size": 3, "min_group_size": 1},
            "exclusion_count",
            "at least 2",
        ),
    ],
)
def test_bad_study_settings_are_refused_and_nothing_is_written(overrides, code, message):
    """Each bad input in turn (wrong types, too long, too many, out of range, unknown names,
    duplicate condition names, a bad URL) is refused with its field's code, and not one row of
    any kind is written: no deliberation, question or condition."""
    with pytest.raises(DomainError) as exc:
        study(**overrides)
    assert exc.value.code == code
    assert message in exc.value.message
    assert Deliberation.objects.count() == 0
    assert Question.objects.count() == 0
    assert Condition.objects.count() == 0


def test_a_refused_condition_says_which_one_and_which_field():
    with pytest.raises(ConditionError) as exc:
        study(conditions=[arm(name="ok"), arm(name="bad", mediation_config={"n_candidates": 99})])
    assert (exc.value.index, exc.value.field) == (1, "mediation_config.n_candidates")
    assert exc.value.message.startswith("Condition 2 (bad): ")


def test_exclusion_count_is_free_without_an_exclusion_condition():
    """Without an exclusion condition the count is unused, so it need not fit the group."""
    assert create(group_size=3, min_group_size=1, exclusion_count=1).exclusion_count == 1


def test_set_status_closes_and_reopens_with_an_audit_trail(django_user_model):
    moderator = django_user_model.objects.create_user("mod2", password="x-long-pass")
    deliberation = create()
    deliberation_set_status(deliberation=deliberation, status="closed", actor=moderator)
    deliberation_set_status(deliberation=deliberation, status="closed", actor=moderator)
    assert Deliberation.objects.get().status == "closed"
    deliberation_set_status(deliberation=deliberation, status="open", actor=moderator)
    assert Deliberation.objects.get().status == "open"
    log = list(AuditLog.objects.order_by("id").values_list("action", "data", "actor"))
    assert log == [
        ("deliberation_status", {"from": "open", "to": "closed"}, moderator.pk),
        ("deliberation_status", {"from": "closed", "to": "open"}, moderator.pk),
    ]


@pytest.mark.parametrize("status", ["draft", "archived", ""])
def test_set_status_refuses_anything_but_open_or_closed(status):
    deliberation = create()
    with pytest.raises(DomainError) as exc:
        deliberation_set_status(deliberation=deliberation, status=status, actor=None)
    assert exc.value.code == "status"
    assert Deliberation.objects.get().status == "open"
    assert AuditLog.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_one_submission_racing_itself_creates_one_deliberation():
    """Two requests with the same submission id at the same moment: the unique constraint lets
    one create the deliberation, and the other answers with it (no cache, no waiting loop)."""
    moderator, _ = moderator_ensure(username="racer", password="a-long-password-1")
    barrier = threading.Barrier(4)

    def submit(_) -> str:
        try:
            barrier.wait(timeout=10)
            return deliberation_create_once(
                submission="c" * 32, created_by=moderator, title="Bus fares", questions=["Free?"]
            )
        finally:
            connection.close()

    with ThreadPoolExecutor(4) as pool:
        public_ids = set(pool.map(submit, range(4)))
    assert public_ids == {str(Deliberation.objects.get().public_id)}
    other = deliberation_create_once(
        submission="d" * 32, created_by=moderator, title="Bus fares", questions=["Free?"]
    )
    assert other not in public_ids and Deliberation.objects.count() == 2
