import pytest

from deliberation.errors import DomainError
from deliberation.models import Deliberation, Question
from deliberation.services.deliberations import (
    DEFAULT_CONSENT_TEXT,
    DEFAULT_CONSENT_VERSION,
    deliberation_create,
    question_create,
)
from deliberation.services.moderators import moderator_ensure
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
