"""Truthful consent: what the consent page and the writing pages say about who sees what matches
what the platform then does; the consent text is versioned and editable by moderators, and a
participant who agreed to an older version is asked again before their next step.

Each claim is tied to the behaviour it describes: the opinion page's sentence about visibility
follows the group's condition, and after mediation the shown statements do quote members' words
(every condition) and show a whole opinion (best_opinion only); the rating and ranking pages'
sentence matches who is then shown the answers (the other members, moderators, the data)."""

import re

import pytest
from django.test import Client

from deliberation.access import session_key
from deliberation.exports.pseudonyms import participant_pseudonym
from deliberation.models import AuditLog, ConsentRecord, Deliberation, Opinion, Statement
from deliberation.selectors import consent as claims
from deliberation.selectors.consent import consent_sha256
from deliberation.selectors.participant import participant_step
from deliberation.services.deliberations import deliberation_create
from tests.commits import CommittingClient

pytestmark = pytest.mark.django_db

QUESTION = "Should the town centre be closed to cars on Saturdays?"
OPINIONS = [
    "Closing the centre makes it calmer and safer. People who walk stay longer in the shops.",
    "Traders depend on drivers and a closure would hurt small shops. Buses are not good enough.",
    "A trial on a few Saturdays would show what happens. We should decide on evidence.",
    "Children could play in the streets again. Air would be cleaner for everyone.",
    "Older people need to park near the shops. A closure shuts them out of the centre.",
    "Only close the main square at first. Then see whether trade falls or grows.",
]


def _page(response) -> str:
    return response.content.decode().replace("&#x27;", "'").replace("&quot;", '"')


def _join(client: Client, deliberation: Deliberation):
    url = f"/j/{deliberation.public_id}/"
    html = _page(client.get(url))
    response = client.post(url, {"agree": "on", "version": deliberation.consent_version})
    assert response.status_code == 302
    return html


def _member(client: Client, deliberation: Deliberation):
    return deliberation.participants.get(public_id=client.session[session_key(deliberation)])


def _make(created_by=None, **options) -> Deliberation:
    return deliberation_create(
        created_by=created_by,
        title="Town centre",
        questions=[QUESTION],
        group_size=3,
        min_group_size=3,
        n_candidates=4,
        **options,
    )


def test_consent_page_says_who_sees_what_as_the_settings_make_it(client):
    plain = _make()
    html = _page(client.get(f"/j/{plain.public_id}/"))
    for claim in (claims.QUOTED, claims.READERS, claims.STORED, claims.KEPT, claims.EXPORTED):
        assert claim in html
    for claim in (claims.WHOLE_OPINION_SOME_GROUPS, claims.EXCLUSION_SOME_GROUPS, claims.BOTS):
        assert claim not in html
    assert "see your opinion and critiques" not in html  # the old, untrue sentence

    full = _make(
        fill_with_bots=True,
        panel="prolific",
        completion_code="C0MPL3TE",
        conditions=[
            {"name": "control"},
            {"name": "best", "comparisons": ["best_opinion"]},
            {"name": "left-out", "exclusion": True},
        ],
        exclusion_count=1,
    )
    html = _page(CommittingClient().get(f"/j/{full.public_id}/?PROLIFIC_PID={'a' * 24}"))
    for claim in (
        claims.QUOTED,
        claims.WHOLE_OPINION_SOME_GROUPS,
        claims.EXCLUSION_SOME_GROUPS,
        claims.BOTS,
        claims.PANEL % {"panel": "Prolific"},
    ):
        assert claim in html


def test_opinion_page_visibility_matches_the_group_condition_and_what_is_shown(
    fake_model_servers, eager_tasks
):
    deliberation = _make(
        conditions=[{"name": "control"}, {"name": "best", "comparisons": ["best_opinion"]}]
    )
    clients = [CommittingClient() for _ in OPINIONS]
    for client in clients:
        _join(client, deliberation)
    pages = {}
    for client, opinion in zip(clients, OPINIONS, strict=True):
        participant = _member(client, deliberation)
        step = participant_step(participant)
        assert step.kind == "write_opinion"
        html = _page(client.get(f"/j/{deliberation.public_id}/go/"))
        assert "The other members will not see what you write" not in html
        pages[participant.pk] = (participant.group.condition.name, html)
        response = client.post(
            f"/j/{deliberation.public_id}/opinion/{step.iteration.pk}/", {"text": opinion}
        )
        assert response.status_code == 302

    for name, html in pages.values():
        visibility = re.search(r'<div id="visibility">(.*?)</div>', html, flags=re.S).group(1)
        assert claims.OPINION_PAGE in visibility
        assert (claims.OPINION_PAGE_BEST_OPINION in visibility) == (name == "best")

    # What the members are then shown.
    for group in deliberation.groups.all():
        opinions = list(Opinion.objects.filter(iteration__round__group=group))
        shown = list(
            Statement.objects.filter(iteration__round__group=group, shown=True).values_list(
                "text", flat=True
            )
        )
        whole = [text for text in shown if any(text == o.text for o in opinions)]
        if group.condition.name == "best":
            assert len(whole) == 1  # a member's whole opinion, word for word
        else:
            assert whole == []
        # Every condition: the statements quote members' sentences word for word.
        first_sentences = [o.text.split(". ")[0] for o in opinions]
        assert any(sentence in text for text in shown for sentence in first_sentences)


def _visibility(html: str) -> str:
    return re.search(r'<div id="visibility">(.*?)</div>', html, flags=re.S).group(1)


def test_rating_and_ranking_pages_say_who_reads_the_answers_as_it_happens(
    fake_model_servers, eager_tasks, mod_client, moderator
):
    """The rating and ranking pages' sentence, tied to what the platform then shows: the other
    members see only that the member has finished; the moderators' group page lists the
    member's rating by seat; the data (API and exports) has every rating and ranking under the
    pseudonym. Nowhere with the member's own id."""
    deliberation = _make(
        created_by=moderator, conditions=[{"name": "best", "comparisons": ["best_opinion"]}]
    )
    clients = [CommittingClient() for _ in range(3)]
    for client in clients:
        _join(client, deliberation)
    for client, opinion in zip(clients, OPINIONS[:3], strict=True):
        step = participant_step(_member(client, deliberation))
        client.post(f"/j/{deliberation.public_id}/opinion/{step.iteration.pk}/", {"text": opinion})
    go = f"/j/{deliberation.public_id}/go/"

    def rate_and_rank(client) -> None:
        member = _member(client, deliberation)
        while (step := participant_step(member)).kind == "rate":
            assert claims.RATING_PAGE in _visibility(_page(client.get(go)))
            client.post(
                f"/j/{deliberation.public_id}/rate/{step.statement.pk}/",
                {"agreement": "6", "quality": "2"},
            )
        assert step.kind == "rank"
        html = _page(client.get(go))
        assert claims.RANKING_PAGE in _visibility(html)
        assert claims.RATING_PAGE not in html
        places = {f"place_{s.pk}": str(i) for i, s in enumerate(step.statements, 1)}
        assert client.post(f"/j/{deliberation.public_id}/rank/{step.iteration.pk}/", places)
        assert participant_step(member).kind != "rank"

    first, second, third = clients
    rate_and_rank(first)
    rate_and_rank(second)
    member = _member(first, deliberation)
    # The other members: only whether the member has finished.
    members = re.search(r'<ul class="members"[^>]*>(.*?)</ul>', _page(second.get(go)), re.S)
    assert f'<li class="done">Member {member.seat + 1}: done ✓</li>' in members.group(1)
    # The moderators: the rating of the winner by seat.
    group = mod_client.get(
        f"/moderate/d/{deliberation.public_id}/g/{member.group.number}/"
    ).content.decode()
    assert f'<th scope="row">{member.seat + 1}</th><td>6</td><td>2</td>' in group
    # Moderators and researchers reading the data: a pseudonym, never the member's id.
    for kind in ("ratings", "rankings"):
        response = mod_client.get(f"/api/v1/{kind}/?deliberation={deliberation.public_id}")
        rows = response.json()["results"]
        assert participant_pseudonym(member.public_id) in {row["participant"] for row in rows}
        assert str(member.public_id) not in response.content.decode()
    assert str(member.public_id) not in group


def test_consent_record_hashes_everything_the_page_showed(client):
    deliberation = _make(conditions=[{"name": "best", "comparisons": ["best_opinion"]}])
    _join(client, deliberation)
    record = ConsentRecord.objects.get()
    assert record.version == "1"
    assert record.text_sha256 == consent_sha256(deliberation)
    # A deliberation whose conditions differ shows other sentences, so the hash differs.
    other = _make()
    other.consent_text = deliberation.consent_text
    assert consent_sha256(other) != record.text_sha256


def test_a_changed_consent_text_is_a_new_version_and_members_are_asked_again(
    fake_model_servers, eager_tasks, mod_client, moderator
):
    deliberation = _make(created_by=moderator)
    clients = [CommittingClient() for _ in range(3)]
    for client in clients:
        _join(client, deliberation)
    member = clients[0]
    assert _page(member.get(f"/j/{deliberation.public_id}/go/")).count("What do you think?") == 1

    # The moderator reads the text, sends it unchanged (nothing happens), then changes it.
    url = f"/moderate/d/{deliberation.public_id}/consent/"
    page = _page(mod_client.get(url))
    assert deliberation.consent_text.splitlines()[0] in page and claims.QUOTED in page
    mod_client.post(url, {"consent_text": deliberation.consent_text})
    deliberation.refresh_from_db()
    assert deliberation.consent_version == "1"
    refused = mod_client.post(url, {"consent_text": "   "})
    assert refused.status_code == 400 and "cannot be empty" in _page(refused)
    new_text = deliberation.consent_text + "\n\nContact: study@example.org."
    response = mod_client.post(url, {"consent_text": new_text})
    assert response.status_code == 302
    deliberation.refresh_from_db()
    assert deliberation.consent_version == "2"
    assert deliberation.consent_text == new_text
    log = AuditLog.objects.get(action="consent_text")
    assert log.actor == moderator
    assert log.data["from_version"] == "1" and log.data["to_version"] == "2"
    assert log.data["to_text"] == new_text and "Contact" not in log.data["from_text"]

    # The member's waiting page learns that the step changed; the step leads to the consent page.
    response = member.get(f"/j/{deliberation.public_id}/go/")
    assert response.status_code == 302 and response.url == f"/j/{deliberation.public_id}/"
    html = _page(member.get(response.url))
    assert "has changed since you agreed to it (version 1)" in html
    assert "Contact: study@example.org." in html
    assert "leave the study" in html
    response = member.post(
        f"/j/{deliberation.public_id}/", {"agree": "on", "version": deliberation.consent_version}
    )
    assert response.status_code == 302
    assert "What do you think?" in _page(member.get(f"/j/{deliberation.public_id}/go/"))
    participant = _member(member, deliberation)
    assert sorted(participant.consents.values_list("version", flat=True)) == ["1", "2"]
    assert participant.group is not None  # kept their seat
    # The others are still asked; a participant who has not agreed again has no step but consent.
    other = _member(clients[1], deliberation)
    assert participant_step(other).kind == "consent"


def test_only_moderators_edit_the_consent_text(client):
    deliberation = _make()
    url = f"/moderate/d/{deliberation.public_id}/consent/"
    response = client.post(url, {"consent_text": "Something else."})
    assert response.status_code in (302, 403)
    deliberation.refresh_from_db()
    assert deliberation.consent_version == "1"
    assert not AuditLog.objects.filter(action="consent_text").exists()
