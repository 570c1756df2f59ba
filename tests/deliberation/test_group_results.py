"""The moderator's results page for a group: candidates by score, the prediction heatmap,
ratings of the winner and the observed metrics. Tried: a group number that does not exist (404),
a group number that exists only in another deliberation, under this deliberation's address (404),
a user without the permission (403)."""

import pytest

from deliberation.models import CandidateSet, Iteration, Statement
from deliberation.selectors.results import divisiveness, heat_colour
from deliberation.services.ratings import rating_submit
from deliberation.services.texts import opinion_submit

# No transactional database: the mediation that the last opinion enqueues on commit runs when
# the test says so (django_capture_on_commit_callbacks).
pytestmark = pytest.mark.django_db

OPINIONS = [
    "Sunday opening gives working families a quiet place to read. Staff must be paid fairly.",
    "Libraries already struggle with budgets. Opening on Sundays would cut weekday hours.",
    "A trial on a few Sundays a month would show whether people come. Volunteers could help.",
]


@pytest.fixture
def moderator_client(client, moderator):
    """Logged in as the moderator who owns the deliberations `make_group` makes."""
    client.force_login(moderator)
    return client


def test_divisiveness_is_the_mean_absolute_pairwise_difference():
    assert divisiveness([4, 4, 4]) == 0
    assert divisiveness([7, 7, 1]) == pytest.approx((0 + 6 + 6) / 3)
    assert divisiveness([5]) is None


def test_heat_colour_is_red_below_neutral_and_blue_above():
    assert heat_colour(1).startswith("rgba(190") and heat_colour(7).startswith("rgba(31")
    assert heat_colour(4).endswith("0.00)")


@pytest.mark.django_db(transaction=True)  # the query bound below counts no savepoints
def test_results_page_shows_what_the_mediator_did(
    make_group, moderator_client, django_assert_max_num_queries
):
    deliberation, members = make_group(3, n_candidates=4)
    iteration = Iteration.objects.get(round__group=members[0].group)
    for member, text in zip(members, OPINIONS, strict=True):
        opinion_submit(participant=member, iteration=iteration, text=text)
    winner = Statement.objects.get(iteration=iteration, is_winner=True)
    for member, agreement in zip(members, (7, 7, 1), strict=True):
        rating_submit(participant=member, statement=winner, agreement=agreement, quality=5)
    candidate_set = CandidateSet.objects.get(iteration=iteration)

    url = f"/moderate/d/{deliberation.public_id}/g/{members[0].group.number}/"
    # 17, plus the session (read from the database, so pages do not need Redis) and the live
    # workers shown to the moderator.
    with django_assert_max_num_queries(19):
        response = moderator_client.get(url)
    html = response.content.decode()
    assert response.status_code == 200
    for text in OPINIONS:
        assert text[:40] in html
    assert html.count('class="bar" role="img"') == 4
    assert f"#{winner.index} ★" in html
    assert html.count('<td style="background: rgba(') == 12  # 3 members x 4 candidates
    assert f"{candidate_set.scores[winner.index]:.2f}" in html
    assert "Mean agreement</dt><dd>5.00" in html
    assert "Divisiveness</dt><dd>4.00" in html
    assert "our definition" in html

    # The groups table links here.
    detail = moderator_client.get(f"/moderate/d/{deliberation.public_id}/").content.decode()
    assert url in detail


def test_results_page_needs_the_permission_and_an_existing_group(
    make_group, client, django_user_model, moderator_client
):
    from deliberation.models import Group

    deliberation, members = make_group(3)
    assert moderator_client.get(f"/moderate/d/{deliberation.public_id}/g/99/").status_code == 404
    other, _ = make_group(3, title="Another deliberation")
    Group.objects.create(deliberation=other, number=2)
    assert moderator_client.get(f"/moderate/d/{other.public_id}/g/2/").status_code == 200
    assert moderator_client.get(f"/moderate/d/{deliberation.public_id}/g/2/").status_code == 404
    plain = django_user_model.objects.create_user("plain", password="x")
    client.force_login(plain)
    assert client.get(f"/moderate/d/{deliberation.public_id}/g/1/").status_code == 403


def test_results_show_comparisons_included_and_excluded_agreement_and_positions(
    make_group, moderator_client, django_capture_on_commit_callbacks
):
    """An exclusion group with the best opinion beside the winner: the page shows the
    comparison's ratings, the agreement of included and excluded members, and the position
    ratings before and after as a table and a dot chart."""
    from deliberation.models import Question, Round
    from deliberation.services.responses import position_rating_submit

    question = Question.objects.create(
        text="Should public libraries open on Sundays?",
        affirming_statement="Public libraries should open on Sundays.",
    )
    deliberation, members = make_group(
        3,
        n_candidates=4,
        questions=[question],
        exclusion_count=1,
        min_group_size=2,
        conditions=[{"name": "excl", "comparisons": ["best_opinion"], "exclusion": True}],
    )
    round_ = Round.objects.get(group=members[0].group)
    (left_out,) = round_.excluded.all()
    iteration = round_.iterations.get(index=0)
    for member, agreement in zip(members, (2, 4, 6), strict=True):
        position_rating_submit(participant=member, round_=round_, index=0, agreement=agreement)
    with django_capture_on_commit_callbacks(execute=True):  # the mediation the last one sends
        for member, text in zip(members, OPINIONS, strict=True):
            opinion_submit(participant=member, iteration=iteration, text=text)
    winner = Statement.objects.get(iteration=iteration, is_winner=True)
    best = Statement.objects.get(iteration=iteration, role="best_opinion")
    for member in members:
        low = member.pk == left_out.pk
        rating_submit(participant=member, statement=winner, agreement=2 if low else 6, quality=5)
        rating_submit(participant=member, statement=best, agreement=3, quality=4)

    url = f"/moderate/d/{deliberation.public_id}/g/{members[0].group.number}/"
    html = moderator_client.get(url).content.decode()
    assert "Included members</dt><dd>6.00" in html
    assert "Excluded members</dt><dd>2.00" in html
    assert "Shown beside the winner" in html
    assert "Best human opinion (comparison)</th><td>3</td><td>3.00</td><td>4.00" in html
    assert "Positions before and after" in html
    assert html.count('class="dot before"') == 3 and 'class="dot after"' not in html
    assert "Mean 4.00 → —" in html
