"""Languages: a deliberation chooses its participants' language (German here), whatever their
browser asks for; moderator pages and English deliberations stay English.

A German study is taken through every participant page by three members (Django's test client,
real PostgreSQL, mediation by the fake model servers): each page must carry a known German
sentence and none of the catalogue's English sentences. Bad input tried in German: an empty
opinion, a rating out of range, an untouched ranking.
"""

import html as html_lib
import re

import pytest
from django.test import Client
from django.utils import translation

from deliberation.errors import DomainError
from deliberation.models import AuditLog, Condition, Deliberation, Opinion, Participant
from deliberation.selectors.consent import (
    QUOTED,
    consent_disclosures,
    consent_sha256,
)
from deliberation.selectors.participant import participant_step
from deliberation.services.bots import PHRASEBOOKS
from deliberation.services.deliberations import (
    DEFAULT_CONSENT_TEXT,
    default_consent_text,
    deliberation_create,
    question_create,
)
from deliberation.services.lifecycle import deliberation_clone
from deliberation.services.setup_edit import deliberation_setup_update
from tests.po import catalogue, read_po

pytestmark = pytest.mark.django_db

QUESTION = {
    "text": "Sollen Innenstädte für private Autos gesperrt werden?",
    "affirming_statement": "Innenstädte sollen für private Autos gesperrt werden.",
    "negating_statement": "Innenstädte sollen für private Autos offen bleiben.",
}
OPINIONS = [
    "Eine autofreie Innenstadt ist ruhiger und sicherer. Wer zu Fuß geht, bleibt länger.",
    "Der Handel braucht Kundschaft mit Auto, und die Busse fahren zu selten.",
    "Ein Versuch an einigen Wochenenden würde zeigen, was passiert.",
]
# A sentence each German page must show, by the member's step.
GERMAN = {
    "consent": "Bevor Sie beginnen",
    "position_before": "Bevor es losgeht: Wo stehen Sie?",
    "write_opinion": "Was denken Sie?",
    "waiting": "Warten, bis die anderen mit dem Schreiben fertig sind",
    "rate": "Wie sehr stimmen Sie dieser Stellungnahme zu?",
    "rank": "Bringen Sie die Stellungnahmen in eine Reihenfolge",
    "write_critique": "Was würden Sie ändern?",
    "final_ranking": "Welche Fassung gefällt Ihnen besser?",
    "position_after": "Nach der Diskussion: Wo stehen Sie jetzt?",
    "survey": "Wie gut hat die letzte Stellungnahme der Gruppe Ihre eigene Sichtweise",
    "done": "Vielen Dank – Sie sind fertig",
    "leave": "Studie verlassen?",
    "empty_opinion": "Bitte schreiben Sie Ihre Meinung, bevor Sie sie absenden.",
    "bad_rating": "Bitte wählen Sie für die Zustimmung eine Zahl von 1 bis 7.",
    "untouched_ranking": "Es wurde nichts gespeichert: Sie haben die Stellungnahmen noch nicht",
}

ENGLISH_WORDS = re.compile(
    r"\b(?:the|you|your|please|statement|of|and|is|to|for|not|this|what|have|with)\b", re.I
)


def english_sentences() -> list[str]:
    """The catalogue's English messages of four words or more without placeholders: none of
    them may show on a German page."""
    return [
        m.msgid
        for m in read_po(catalogue("de"))
        if len(m.msgid.split()) >= 4 and "%(" not in m.msgid and "{" not in m.msgid
    ]


def text_of(response) -> str:
    return html_lib.unescape(response.content.decode())


@pytest.fixture
def german_study(fake_model_servers, eager_tasks):
    deliberation = deliberation_create(
        created_by=None,
        title="Autofreie Innenstadt",
        questions=[question_create(**QUESTION)],
        group_size=3,
        min_group_size=3,
        n_candidates=4,
        critique_iterations=1,
        language="de",
    )
    # A comparison statement beside the winner, so that members rank.
    Condition.objects.create(
        deliberation=deliberation, name="with-best-opinion", comparisons=["best_opinion"]
    )
    return deliberation


def _go(client, deliberation, path="go/", data=None, status=None):
    url = f"/j/{deliberation.public_id}/{path}"
    response = client.post(url, data) if data is not None else client.get(url)
    if status is not None:
        assert response.status_code == status, response.content.decode()[:1500]
    return response


def _answer(client, deliberation, step, seat: int, pages: dict) -> None:
    """Send a valid answer for the member's step (and, once, a refused one first)."""
    kind = step.kind
    if kind in ("position_before", "position_after"):
        index = 0 if kind == "position_before" else 1
        _go(client, deliberation, f"position/{step.round.pk}/{index}/", {"agreement": 4}, 302)
    elif kind == "write_opinion":
        if "empty_opinion" not in pages:
            url = f"opinion/{step.iteration.pk}/"
            pages["empty_opinion"] = text_of(_go(client, deliberation, url, {"text": " "}, 400))
        url = f"opinion/{step.iteration.pk}/"
        _go(client, deliberation, url, {"text": OPINIONS[seat]}, 302)
    elif kind == "write_critique":
        text = "Die Stellungnahme sagt zu wenig über die Busse."
        _go(client, deliberation, f"critique/{step.iteration.pk}/", {"text": text}, 302)
    elif kind == "rate":
        url = f"rate/{step.statement.pk}/"
        if "bad_rating" not in pages:
            bad = {"agreement": "9", "quality": "5"}
            pages["bad_rating"] = text_of(_go(client, deliberation, url, bad, 400))
        _go(client, deliberation, url, {"agreement": 3 + seat, "quality": 5}, 302)
    elif kind in ("rank", "final_ranking"):
        url = f"rank/{step.iteration.pk}/" if kind == "rank" else f"final/{step.round.pk}/"
        if "untouched_ranking" not in pages:
            pages["untouched_ranking"] = text_of(_go(client, deliberation, url, {}, 400))
        places = {f"place_{s.pk}": i + 1 for i, s in enumerate(step.statements)}
        _go(client, deliberation, url, places, 302)
    elif kind == "survey":
        answers = {"helpful": "6", "represented": "5", "comment": ""}
        _go(client, deliberation, f"survey/{step.round.pk}/", answers, 302)


def test_every_participant_page_of_a_german_deliberation_is_in_german(
    german_study, django_capture_on_commit_callbacks
):
    deliberation = german_study
    assert deliberation.consent_text == default_consent_text("de") != DEFAULT_CONSENT_TEXT
    clients = [Client(headers={"accept-language": "en-GB,en"}) for _ in range(3)]
    pages: dict[str, str] = {"consent": text_of(_go(clients[0], deliberation, "", status=200))}
    members = []
    for client in clients:
        _go(client, deliberation, "", {"agree": "on", "version": "1"}, 302)
        members.append(Participant.objects.filter(deliberation=deliberation).latest("id"))
    pages["leave"] = text_of(_go(clients[0], deliberation, "leave/", status=200))

    for _ in range(30):
        for seat, (client, member) in enumerate(zip(clients, members, strict=True)):
            step = participant_step(member)
            pages.setdefault(step.kind, text_of(_go(client, deliberation, status=200)))
            with django_capture_on_commit_callbacks(execute=True):
                _answer(client, deliberation, step, seat, pages)
            after = participant_step(member)
            pages.setdefault(after.kind, text_of(_go(client, deliberation, status=200)))
        if all(participant_step(m).kind == "done" for m in members):
            break

    assert set(GERMAN) <= set(pages), set(GERMAN) - set(pages)
    english = english_sentences()
    for kind, page in pages.items():
        assert '<html lang="de">' in page, kind
        if kind in GERMAN:
            assert GERMAN[kind] in page, kind
        left = [sentence for sentence in english if sentence in page]
        assert not left, f"English on the German {kind} page: {left}"
        # Strings never marked for translation are in no catalogue: look for English words in
        # what the page says outside the statements (which are not translated).
        words = ENGLISH_WORDS.findall(re.sub(r"<blockquote.*?</blockquote>|<[^>]+>", " ", page))
        assert not words, f"English words on the German {kind} page: {words}"
    assert "Ihre Meinungen und Kritiken werden den anderen Mitgliedern nie" in pages["consent"]
    assert "Stimme voll und ganz zu" in pages["rate"]  # the Likert labels
    assert 'data-count="{count} von {limit} Zeichen"' in pages["write_opinion"]  # drafts.js
    assert 'data-moved="Stellungnahme {letter} steht jetzt auf Platz' in pages["rank"]
    # The consent record's hash is of what the German page showed.
    record = members[0].consents.get()
    assert record.text_sha256 == consent_sha256(deliberation)


def test_the_waiting_fragment_and_the_response_say_german(german_study):
    deliberation = german_study
    client = Client(headers={"accept-language": "en"})
    _go(client, deliberation, "", {"agree": "on", "version": "1"}, 302)
    member = Participant.objects.get(deliberation=deliberation)
    step = participant_step(member)
    assert step.kind == "waiting_group"
    response = _go(client, deliberation, f"status/?key={step.key}", status=200)
    assert response["Content-Language"] == "de"
    assert "Warten, bis Ihre Gruppe vollständig ist" in text_of(response)


def test_an_english_deliberation_stays_english_whatever_the_browser_and_the_last_request(
    german_study, make_group
):
    english, _ = make_group(3)
    german_browser = Client(headers={"accept-language": "de-DE,de;q=0.9"})
    # A German page first, on the same thread: its language must not carry over.
    assert '<html lang="de">' in text_of(_go(german_browser, german_study, "", status=200))
    response = _go(german_browser, english, "", status=200)
    page = text_of(response)
    assert response["Content-Language"] == "en"
    assert '<html lang="en">' in page
    assert "Before you start" in page and "Bevor Sie beginnen" not in page
    assert english.consent_text == DEFAULT_CONSENT_TEXT


def test_moderator_pages_stay_english_for_a_german_deliberation(mod_client, moderator):
    deliberation = deliberation_create(
        created_by=moderator, title="Autofrei", questions=[QUESTION["text"]], language="de"
    )
    response = mod_client.get(f"/moderate/d/{deliberation.public_id}/")
    page = text_of(response)
    assert response.status_code == 200
    assert response["Content-Language"] == "en" and '<html lang="en">' in page
    assert re.search(r"Participants' language</dt>\s*<dd[^>]*>German \(Deutsch\)", page)


def test_the_create_page_sets_the_participants_language(mod_client):
    response = mod_client.post(
        "/moderate/new/",
        {
            "title": "Autofreie Innenstadt",
            "language": "de",
            "question_lines": QUESTION["text"],
            "group_size": "3",
            "min_group_size": "3",
            "n_candidates": "4",
            "aggregation": "welfare",
            "alpha": "1",
            "critique_iterations": "0",
            "opinion_minutes": "10",
            "critique_minutes": "10",
            "rating_minutes": "10",
            "survey_text": "helpful | likert | required | How much did the group statements "
            "help you see the other members' views?\n"
            "represented | likert | required | How well did the final group statement "
            "represent your own view?\n"
            "comment | text | optional | Anything else you would like to tell us about this "
            "round? (optional)",
            "condition-TOTAL_FORMS": "0",
            "condition-INITIAL_FORMS": "0",
            "action": "create",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    deliberation = Deliberation.objects.get()
    assert deliberation.language == "de"
    assert deliberation.consent_text.startswith("Dies ist eine Forschungsstudie")
    # The default survey the page offered (in English) is stored in German.
    assert deliberation.survey_items[1]["text"] == (
        "Wie gut hat die letzte Stellungnahme der Gruppe Ihre eigene Sichtweise wiedergegeben?"
    )


def test_a_moderators_own_texts_are_kept_as_written_and_an_unknown_language_is_refused():
    own = {"key": "fair", "text": "Was it fair?", "kind": "likert", "required": True}
    deliberation = deliberation_create(
        created_by=None,
        title="Own texts",
        questions=["Sollen Busse kostenlos sein?"],
        consent_text="Our own consent text, in English.",
        survey_items=[own],
        language="de",
    )
    assert deliberation.consent_text == "Our own consent text, in English."
    assert deliberation.survey_items == [own]
    with pytest.raises(DomainError) as refused:
        deliberation_create(created_by=None, title="X", questions=["Q?"], language="fr")
    assert refused.value.code == "language"


def test_clone_keeps_the_language_and_an_edit_before_joins_switches_the_platform_texts(
    moderator,
):
    deliberation = deliberation_create(
        created_by=moderator, title="Autofrei", questions=[QUESTION["text"]], language="de"
    )
    assert deliberation_clone(deliberation=deliberation, actor=moderator).language == "de"
    edited = deliberation_setup_update(
        deliberation=deliberation,
        actor=moderator,
        title="Autofrei",
        questions=[QUESTION["text"]],
        survey_items=deliberation.survey_items,  # the German default, as the edit page shows it
        language="en",
    )
    assert edited.language == "en"
    assert edited.consent_text == DEFAULT_CONSENT_TEXT
    assert edited.survey_items[0]["text"].startswith("How much did the group statements help")
    changed = AuditLog.objects.get(action="deliberation_setup_update").data["changed"]
    assert changed["language"] == {"from": "de", "to": "en"}
    assert "consent_text" in changed


def test_the_disclosures_are_in_the_deliberations_language_on_any_page():
    deliberation = deliberation_create(
        created_by=None, title="Autofrei", questions=[QUESTION["text"]], language="de"
    )
    with translation.override("en"):  # a moderator page reading them
        shown = consent_disclosures(deliberation)
    assert shown[0].startswith("Ihre Meinungen und Kritiken") and QUOTED not in shown


def test_the_bots_of_a_german_deliberation_write_german(
    fake_model_servers, eager_tasks, django_capture_on_commit_callbacks
):
    deliberation = deliberation_create(
        created_by=None,
        title="Autofrei",
        questions=[question_create(**QUESTION)],
        group_size=3,
        min_group_size=3,
        n_candidates=2,
        fill_with_bots=True,
        language="de",
    )
    with django_capture_on_commit_callbacks(execute=True):
        _go(Client(), deliberation, "", {"agree": "on", "version": "1"}, 302)
    bots = Opinion.objects.filter(participant__provenance="bot_citizen").values_list(
        "text", flat=True
    )
    assert len(bots) == 2
    german_reasons = set(PHRASEBOOKS["de"].reasons)
    for text in bots:
        assert QUESTION["affirming_statement"].rstrip(".") in text or (
            QUESTION["negating_statement"].rstrip(".") in text
        )
        assert any(reason in text for reason in german_reasons), text
        assert not ENGLISH_WORDS.search(text), text
