"""The moderator's results page for a group: candidates by score, the prediction heatmap,
ratings of the winner and the observed metrics. Tried: a moderator of another deliberation's
group number that does not exist (404), a user without the permission (403)."""

import pytest
from django.contrib.auth.models import Permission

from deliberation.models import CandidateSet, Iteration, Statement
from deliberation.selectors.results import divisiveness, heat_colour
from deliberation.services.ratings import rating_submit
from deliberation.services.rounds import opinion_submit

pytestmark = pytest.mark.django_db(transaction=True)

OPINIONS = [
    "Sunday opening gives working families a quiet place to read. Staff must be paid fairly.",
    "Libraries already struggle with budgets. Opening on Sundays would cut weekday hours.",
    "A trial on a few Sundays a month would show whether people come. Volunteers could help.",
]


@pytest.fixture
def moderator_client(client, django_user_model):
    user = django_user_model.objects.create_user("results-mod", password="x")
    user.user_permissions.add(Permission.objects.get(codename="moderate"))
    client.force_login(user)
    return client


def test_divisiveness_is_the_mean_absolute_pairwise_difference():
    assert divisiveness([4, 4, 4]) == 0
    assert divisiveness([7, 7, 1]) == pytest.approx((0 + 6 + 6) / 3)
    assert divisiveness([5]) is None


def test_heat_colour_is_red_below_neutral_and_blue_above():
    assert heat_colour(1).startswith("rgba(190") and heat_colour(7).startswith("rgba(31")
    assert heat_colour(4).endswith("0.00)")


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
    with django_assert_max_num_queries(15):
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
    deliberation, members = make_group(3)
    assert moderator_client.get(f"/moderate/d/{deliberation.public_id}/g/99/").status_code == 404
    plain = django_user_model.objects.create_user("plain", password="x")
    client.force_login(plain)
    assert client.get(f"/moderate/d/{deliberation.public_id}/g/1/").status_code == 403
