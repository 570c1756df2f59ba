"""The participant pages through Django's test client, on the real PostgreSQL.

Bad input tried here: an empty and an overlong opinion (the text must come back in the form),
ratings outside 1-7 and not numbers, a double POST, a participant of group A reading and posting
to group B, a POST without a CSRF token, a visitor with no session, too many joins in a minute.
"""

import re

import pytest
from django.test import Client

from deliberation.models import Iteration, Opinion, Participant, Rating, Statement
from tests.commits import CommittingClient

pytestmark = pytest.mark.django_db

OPINION = (
    "Saturday closures would make the centre calmer and safer. Traders worry, but people who "
    "walk tend to stay longer. Good buses are the condition."
)


@pytest.fixture
def bot_deliberation(fake_model_servers, eager_tasks):
    """A deliberation whose empty seats fill with bots, as in the demo."""
    from deliberation.services.deliberations import deliberation_create

    def make(**options):
        return deliberation_create(
            created_by=None,
            title=options.pop("title", "Town centre"),
            questions=["Should the town centre be closed to cars on Saturdays?"],
            group_size=options.pop("group_size", 4),
            min_group_size=3,
            n_candidates=4,
            fill_with_bots=True,
            **options,
        )

    return make


def join(client: Client, deliberation) -> Participant:
    response = client.post(
        f"/j/{deliberation.public_id}/", {"agree": "on", "version": deliberation.consent_version}
    )
    assert response.status_code == 302, response.content[:500]
    assert response["Location"] == f"/j/{deliberation.public_id}/go/"
    return Participant.objects.filter(deliberation=deliberation, provenance="human_citizen").latest(
        "id"
    )


def iteration_of(participant: Participant) -> Iteration:
    return Iteration.objects.filter(round__group=participant.group).latest("id")


def page(client: Client, deliberation) -> str:
    response = client.get(f"/j/{deliberation.public_id}/go/")
    assert response.status_code == 200
    return response.content.decode()


def test_a_participant_completes_a_round_through_the_pages(client, bot_deliberation):
    deliberation = bot_deliberation()
    consent = client.get(f"/j/{deliberation.public_id}/")
    assert consent.status_code == 200
    assert deliberation.consent_text[:40] in consent.content.decode()

    participant = join(client, deliberation)
    html = page(client, deliberation)
    assert "What do you think?" in html
    assert "Should the town centre be closed to cars on Saturdays?" in html

    iteration = iteration_of(participant)
    response = client.post(
        f"/j/{deliberation.public_id}/opinion/{iteration.pk}/",
        {"text": OPINION, "duration_ms": "64000"},
    )
    assert response.status_code == 302
    opinion = Opinion.objects.get(participant=participant)
    assert opinion.response_duration_ms == 64000

    html = page(client, deliberation)
    assert "Rate the group statement" in html
    winner = Statement.objects.get(iteration=iteration, is_winner=True)
    assert winner.text.split(".")[0] in html.replace("&#x27;", "'")
    assert html.count('type="radio" name="agreement"') == 7
    assert html.count('type="radio" name="quality"') == 7
    assert "Strongly disagree" in html and "Excellent" in html

    response = client.post(
        f"/j/{deliberation.public_id}/rate/{winner.pk}/", {"agreement": "6", "quality": "5"}
    )
    assert response.status_code == 302
    html = page(client, deliberation)
    assert "A few questions about this round" in html
    round_id = iteration.round_id
    response = client.post(
        f"/j/{deliberation.public_id}/survey/{round_id}/", {"helpful": "5", "represented": "4"}
    )
    assert response.status_code == 302
    assert "you are done" in page(client, deliberation)
    rating = Rating.objects.get(participant=participant)
    assert (rating.agreement, rating.quality) == (6, 5)
    assert Rating.objects.filter(iteration=iteration).count() == 4  # 1 person + 3 bots


def test_reload_and_a_second_tab_land_on_the_current_step(client, bot_deliberation):
    deliberation = bot_deliberation()
    participant = join(client, deliberation)
    second_tab = CommittingClient()
    second_tab.cookies = client.cookies

    assert "What do you think?" in page(second_tab, deliberation)
    # Opening the invitation link again does not make a new participant.
    assert client.get(f"/j/{deliberation.public_id}/")["Location"].endswith("/go/")
    client.post(
        f"/j/{deliberation.public_id}/opinion/{iteration_of(participant).pk}/", {"text": OPINION}
    )
    assert "Rate the group statement" in page(second_tab, deliberation)
    assert "Rate the group statement" in page(client, deliberation)
    assert Participant.objects.filter(provenance="human_citizen").count() == 1


def test_empty_and_overlong_opinions_show_a_clear_error_and_keep_the_text(client, bot_deliberation):
    deliberation = bot_deliberation()
    participant = join(client, deliberation)
    url = f"/j/{deliberation.public_id}/opinion/{iteration_of(participant).pk}/"

    empty = client.post(url, {"text": "   "})
    assert empty.status_code == 400
    assert "Please write your opinion before sending it." in empty.content.decode()

    long_text = "Long opinion. " * 150  # 2,100 characters
    overlong = client.post(url, {"text": long_text})
    body = overlong.content.decode()
    assert overlong.status_code == 400
    assert "please keep it to 2,000" in body
    assert long_text.strip() in body  # nothing the person wrote is lost
    assert 'aria-invalid="true"' in body
    assert not Opinion.objects.filter(participant=participant).exists()


@pytest.mark.parametrize("value", ["0", "8", "abc", "4.5", ""])
def test_rating_outside_1_to_7_or_not_a_number_is_refused_with_a_message(
    client, bot_deliberation, value
):
    deliberation = bot_deliberation()
    participant = join(client, deliberation)
    client.post(
        f"/j/{deliberation.public_id}/opinion/{iteration_of(participant).pk}/", {"text": OPINION}
    )
    winner = Statement.objects.get(iteration=iteration_of(participant), is_winner=True)

    response = client.post(
        f"/j/{deliberation.public_id}/rate/{winner.pk}/", {"agreement": value, "quality": "4"}
    )
    assert response.status_code == 400
    assert "Please choose a number from 1 to 7 for agreement." in response.content.decode()
    assert not Rating.objects.filter(participant=participant).exists()


def test_double_post_of_an_opinion_and_a_rating_stores_each_once(client, bot_deliberation):
    deliberation = bot_deliberation(group_size=3)
    participant = join(client, deliberation)
    url = f"/j/{deliberation.public_id}/opinion/{iteration_of(participant).pk}/"
    assert client.post(url, {"text": OPINION}).status_code == 302
    assert client.post(url, {"text": OPINION}).status_code == 302
    assert Opinion.objects.filter(participant=participant).count() == 1

    changed = client.post(url, {"text": "A different opinion."})
    assert changed.status_code in (400, 409)
    assert Opinion.objects.get(participant=participant).text == OPINION

    winner = Statement.objects.get(iteration=iteration_of(participant), is_winner=True)
    rate_url = f"/j/{deliberation.public_id}/rate/{winner.pk}/"
    assert client.post(rate_url, {"agreement": "3", "quality": "3"}).status_code == 302
    assert client.post(rate_url, {"agreement": "3", "quality": "3"}).status_code == 302
    assert Rating.objects.filter(participant=participant).count() == 1
    assert client.post(rate_url, {"agreement": "6", "quality": "3"}).status_code == 409
    assert list(Rating.objects.filter(participant=participant).values_list("agreement")) == [(3,)]


def test_a_participant_cannot_read_or_post_to_another_group(bot_deliberation):
    deliberation = bot_deliberation()
    alice, bob = CommittingClient(), CommittingClient()
    alice_p = join(alice, deliberation)
    bob_p = join(bob, deliberation)
    assert alice_p.group_id != bob_p.group_id  # alice's group filled with bots before bob came

    bob_iteration = iteration_of(bob_p)
    bob.post(f"/j/{deliberation.public_id}/opinion/{bob_iteration.pk}/", {"text": OPINION})
    bob_winner = Statement.objects.get(iteration=bob_iteration, is_winner=True)

    assert (
        alice.post(
            f"/j/{deliberation.public_id}/opinion/{bob_iteration.pk}/", {"text": "Intruding."}
        ).status_code
        == 404
    )
    assert (
        alice.post(
            f"/j/{deliberation.public_id}/rate/{bob_winner.pk}/", {"agreement": "1", "quality": "1"}
        ).status_code
        == 404
    )
    assert not Opinion.objects.filter(participant=alice_p).exists()
    assert not Rating.objects.filter(participant=alice_p).exists()

    # Reading: alice's own pages never show bob's group's texts.
    alice_page = page(alice, deliberation)
    assert Opinion.objects.filter(iteration=bob_iteration).count() == 4  # bob and three bots
    for opinion in Opinion.objects.filter(iteration=bob_iteration):
        assert opinion.text[:40] not in alice_page
    assert bob_winner.text[:40] not in alice_page

    # Without a session there is nothing to read or post.
    stranger = CommittingClient()
    assert stranger.get(f"/j/{deliberation.public_id}/status/").status_code == 403
    assert (
        stranger.post(
            f"/j/{deliberation.public_id}/opinion/{bob_iteration.pk}/", {"text": "x"}
        ).status_code
        == 403
    )


def test_a_post_without_csrf_token_is_rejected_and_stores_nothing(bot_deliberation):
    deliberation = bot_deliberation()
    browser = Client(enforce_csrf_checks=True)
    consent_page = browser.get(f"/j/{deliberation.public_id}/")
    assert consent_page.status_code == 200

    response = browser.post(
        f"/j/{deliberation.public_id}/", {"agree": "on", "version": deliberation.consent_version}
    )
    assert response.status_code == 403
    assert not Participant.objects.exists()

    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', consent_page.content.decode())
    response = browser.post(
        f"/j/{deliberation.public_id}/",
        {"agree": "on", "version": deliberation.consent_version, "csrfmiddlewaretoken": token[1]},
    )
    assert response.status_code == 302
    participant = Participant.objects.get(provenance="human_citizen")
    no_token = browser.post(
        f"/j/{deliberation.public_id}/opinion/{iteration_of(participant).pk}/", {"text": OPINION}
    )
    assert no_token.status_code == 403
    assert not Opinion.objects.filter(participant=participant).exists()


def test_consent_must_be_ticked(client, bot_deliberation):
    deliberation = bot_deliberation()
    response = client.post(
        f"/j/{deliberation.public_id}/", {"version": deliberation.consent_version}
    )
    assert response.status_code == 400
    assert "Please tick the box" in response.content.decode()
    assert not Participant.objects.exists()


def test_the_waiting_page_polls_a_cheap_status_that_redirects_when_the_step_changes(
    fake_model_servers, eager_tasks
):
    from deliberation.services.deliberations import deliberation_create

    deliberation = deliberation_create(
        created_by=None,
        title="Three people",
        questions=["Is a four-day week a good idea?"],
        group_size=2,
        min_group_size=2,
        n_candidates=3,
    )
    first, second = CommittingClient(), CommittingClient()
    first_p = join(first, deliberation)
    waiting = page(first, deliberation)
    assert "Waiting for your group to form" in waiting
    key = re.search(r"\?key=([^\"&]+)", waiting)[1]
    status = first.get(f"/j/{deliberation.public_id}/status/?key={key}", HTTP_HX_REQUEST="true")
    assert status.status_code == 200 and 'id="progress"' in status.content.decode()
    assert "<html" not in status.content.decode()

    second_p = join(second, deliberation)
    moved = first.get(f"/j/{deliberation.public_id}/status/?key={key}", HTTP_HX_REQUEST="true")
    assert moved.status_code == 204
    assert moved["HX-Redirect"] == f"/j/{deliberation.public_id}/go/"

    first.post(
        f"/j/{deliberation.public_id}/opinion/{iteration_of(first_p).pk}/", {"text": OPINION}
    )
    waiting = page(first, deliberation)
    assert "1 of 2 members are done" in waiting
    assert OPINION[:30] not in page(second, deliberation)  # counts, never others' words
    assert second_p.group_id == first_p.group_id


def test_joining_too_often_from_one_address_is_rate_limited(settings, bot_deliberation):
    settings.RATE_LIMIT_JOIN_PER_MINUTE = 2
    deliberation = bot_deliberation()
    codes = [
        CommittingClient()
        .post(
            f"/j/{deliberation.public_id}/",
            {"agree": "on", "version": deliberation.consent_version},
        )
        .status_code
        for _ in range(3)
    ]
    assert codes == [302, 302, 429]
    assert Participant.objects.filter(provenance="human_citizen").count() == 2


def test_polling_with_nothing_new_swaps_nothing(fake_model_servers, eager_tasks):
    from deliberation.services.deliberations import deliberation_create

    deliberation = deliberation_create(
        created_by=None,
        title="Two people",
        questions=["Should libraries open on Sundays?"],
        group_size=2,
        min_group_size=2,
        n_candidates=3,
    )
    first, second = CommittingClient(), CommittingClient()
    first_p = join(first, deliberation)
    join(second, deliberation)
    first.post(
        f"/j/{deliberation.public_id}/opinion/{iteration_of(first_p).pk}/", {"text": OPINION}
    )
    waiting = page(first, deliberation)
    query = re.search(r'hx-get="[^"?]+\?([^"]+)"', waiting)[1].replace("&amp;", "&")
    unchanged = first.get(f"/j/{deliberation.public_id}/status/?{query}", HTTP_HX_REQUEST="true")
    assert unchanged.status_code == 204
    assert "HX-Redirect" not in unchanged


def test_a_passed_deadline_moves_the_group_on_when_a_member_polls_without_any_beat(
    fake_model_servers, eager_tasks
):
    from datetime import timedelta

    from django.utils import timezone

    from deliberation.services.deliberations import deliberation_create

    deliberation = deliberation_create(
        created_by=None,
        title="Three people, one silent",
        questions=["Should libraries open on Sundays?"],
        group_size=3,
        min_group_size=2,
        n_candidates=3,
    )
    clients = [CommittingClient(), CommittingClient(), CommittingClient()]
    members = [join(c, deliberation) for c in clients]
    for client, member in zip(clients[:2], members[:2], strict=True):
        client.post(
            f"/j/{deliberation.public_id}/opinion/{iteration_of(member).pk}/", {"text": OPINION}
        )
    iteration = iteration_of(members[0])
    key = re.search(r"\?key=([^\"&]+)", page(clients[0], deliberation))[1]
    Iteration.objects.filter(pk=iteration.pk).update(deadline=timezone.now() - timedelta(seconds=1))

    moved = clients[0].get(f"/j/{deliberation.public_id}/status/?key={key}")
    assert moved.status_code == 204 and moved["HX-Redirect"].endswith("/go/")
    iteration.refresh_from_db()
    assert iteration.state == Iteration.State.RATING
    assert "Rate the group statement" in page(clients[0], deliberation)
    # The member who did not write in time sees the statement too, and may rate it.
    assert "Rate the group statement" in page(clients[2], deliberation)
