"""A moderator edits a deliberation's whole set-up on the set-up page, filled with what is set
up now, until the first participant joins; after that the page refuses with the reason, and a
save refused because someone joined meanwhile loses nothing (issue 13, item 7)."""

import threading
import time
from html.parser import HTMLParser

import pytest
from django.contrib.auth.models import Permission
from django.db import connection, transaction
from django.urls import reverse

from deliberation.models import AuditLog, Condition, Deliberation
from deliberation.selectors.model_versions import PIN_KEY
from deliberation.services.deliberations import deliberation_create, question_create
from deliberation.services.participants import participant_join
from deliberation.services.setup_edit import SetupLocked, deliberation_setup_update
from tests.deliberation.test_moderator_setup import CREATE_URL, study_form

pytestmark = pytest.mark.django_db


class _FormFields(HTMLParser):
    """What a browser would post from a page's form: each named input, textarea and select, as
    the page fills it (ticked checkboxes only; no submit buttons)."""

    def __init__(self):
        super().__init__()
        self.fields: dict[str, list[str]] = {}
        self._textarea: str | None = None
        self._select: str | None = None
        self._options: list[tuple[str, bool]] = []

    def _add(self, name: str, value: str) -> None:
        self.fields.setdefault(name, []).append(value)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        name = attrs.get("name")
        if tag == "input" and name and attrs.get("type") not in ("submit", "button"):
            if attrs.get("type") in ("checkbox", "radio"):
                if "checked" in attrs:
                    self._add(name, attrs.get("value", "on"))
            else:
                self._add(name, attrs.get("value", ""))
        elif tag == "textarea" and name:
            self._textarea, self._text = name, ""
        elif tag == "select" and name:
            self._select, self._options = name, []
        elif tag == "option" and self._select:
            self._options.append((attrs.get("value", ""), "selected" in attrs))

    def handle_data(self, data):
        if self._textarea is not None:
            self._text += data

    def handle_endtag(self, tag):
        if tag == "textarea" and self._textarea is not None:
            # A browser drops the one newline that follows <textarea>.
            self._add(self._textarea, self._text.removeprefix("\n"))
            self._textarea = None
        elif tag == "select" and self._select:
            chosen = [value for value, selected in self._options if selected]
            self._add(self._select, chosen[0] if chosen else self._options[0][0])
            self._select = None


def form_fields(html: str) -> dict[str, list[str]]:
    parser = _FormFields()
    parser.feed(html)
    return parser.fields


def edit_url(deliberation) -> str:
    return reverse("moderator:deliberation_edit", args=[deliberation.public_id])


def detail_url(deliberation) -> str:
    return reverse("moderator:deliberation_detail", args=[deliberation.public_id])


def _setup(deliberation) -> dict:
    """Everything the set-up page sets, as stored."""
    deliberation.refresh_from_db()
    return {
        "fields": {
            f.name: getattr(deliberation, f.name)
            for f in Deliberation._meta.concrete_fields
            if f.name not in ("updated_at",)
        },
        "questions": list(
            deliberation.question_links.order_by("position").values_list("question_id", flat=True)
        ),
        "conditions": list(
            deliberation.conditions.order_by("id").values(
                "name", "description", "mediation_config", "comparisons", "baseline_config"
            )
        ),
    }


@pytest.fixture
def study(mod_client):
    """The two-round study of the create page's tests (a new question and a saved one, the
    survey, the panel, an exclusion and a no-reranking condition), made through the page."""
    saved = question_create(text="Should libraries open on Sundays?", topic="culture")
    response = mod_client.post(CREATE_URL, study_form(picked_questions=[str(saved.pk)]))
    assert response.status_code == 302
    return Deliberation.objects.get()


def test_the_edit_page_shows_the_current_set_up_and_saving_it_as_shown_changes_nothing(
    mod_client, study, moderator
):
    """The page is the set-up form filled with the study: posting it back untouched, as a
    browser would, stores the very same set-up (so the page shows all of it)."""
    before = _setup(study)
    html = mod_client.get(edit_url(study)).content.decode()
    assert "<h1>Edit the set-up</h1>" in html
    assert 'value="Transport study"' in html
    assert 'name="condition-TOTAL_FORMS" value="2"' in html
    assert 'value="no-rerank"' in html and 'value="plain-llm"' in html
    assert 'value="baseline" id="id_condition-1-comparisons_1" checked' in html
    assert "comment | text | optional | Anything else?" in html
    for pk in before["questions"]:
        assert f'value="{pk}" id="picked-{pk}" checked' in html

    fields = form_fields(html)
    fields["action"] = ["save"]
    response = mod_client.post(edit_url(study), fields)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert response.url == detail_url(study)
    assert _setup(study) == before
    log = AuditLog.objects.get(action="deliberation_setup_update")
    assert (log.actor, log.target_id, log.data) == (moderator, study.pk, {"changed": {}})


def test_an_edit_before_anyone_joins_replaces_the_set_up_and_keeps_the_link(
    mod_client, study, moderator
):
    public_id, questions = study.public_id, _setup(study)["questions"]
    fields = form_fields(mod_client.get(edit_url(study)).content.decode())
    fields.update(
        {
            "title": ["Transport study, second pilot"],
            "group_size": ["4"],
            "picked_questions": [str(questions[1])],
            "question_lines": ["Should trams run all night?"],
            "saved_first": ["on"],
            "survey_text": [""],
            "condition-0-name": ["left-out"],
            "condition-1-n_candidates": ["2"],
            "action": ["save"],
        }
    )
    response = mod_client.post(edit_url(study), fields)
    assert response.status_code == 302
    study.refresh_from_db()
    assert study.public_id == public_id
    assert (study.title, study.group_size, study.survey_items) == (
        "Transport study, second pilot",
        4,
        [],
    )
    assert list(
        study.question_links.order_by("position").values_list("question__text", flat=True)
    ) == ["Should libraries open on Sundays?", "Should trams run all night?"]
    assert list(study.conditions.values_list("name", "mediation_config")) == [
        ("left-out", {}),
        ("no-rerank", {"n_candidates": 2, "aggregation": "schulze"}),
    ]
    changed = AuditLog.objects.get(action="deliberation_setup_update").data["changed"]
    assert set(changed) == {
        "title",
        "group_size",
        "survey_items",
        "questions",
        "conditions",
    }
    assert changed["group_size"] == {"from": 5, "to": 4}
    assert "Edit the set-up" in mod_client.get(detail_url(study)).content.decode()


def test_a_service_refusal_comes_back_on_the_edit_page_with_everything_typed(mod_client, study):
    before = _setup(study)
    fields = form_fields(mod_client.get(edit_url(study)).content.decode())
    fields.update({"completion_url": ["javascript:alert(1)"], "action": ["save"]})
    response = mod_client.post(edit_url(study), fields)
    html = response.content.decode()
    assert response.status_code == 400
    assert "The set-up was not saved" in html and 'id="id_completion_url_error"' in html
    assert 'value="javascript:alert(1)"' in html
    assert _setup(study) == before
    assert not AuditLog.objects.filter(action="deliberation_setup_update").exists()


def test_once_someone_joined_the_edit_is_refused_and_the_refusal_loses_nothing(mod_client, study):
    """The page the moderator opened before the join is saved after it: nothing is written, the
    reason is given and the typed set-up is still on the page; the deliberation's page no longer
    offers the edit, and the edit page says why."""
    fields = form_fields(mod_client.get(edit_url(study)).content.decode())
    before = _setup(study)
    participant_join(deliberation=study)

    fields.update({"title": ["A title typed after the join"], "action": ["save"]})
    response = mod_client.post(edit_url(study), fields)
    html = response.content.decode()
    assert response.status_code == 409
    assert "Nothing was saved. Participants have joined this deliberation" in html
    assert 'value="A title typed after the join"' in html and 'value="no-rerank"' in html
    assert _setup(study) == before
    assert not AuditLog.objects.filter(action="deliberation_setup_update").exists()

    detail = mod_client.get(detail_url(study)).content.decode()
    assert edit_url(study) not in detail
    assert "the set-up can no longer change" in detail
    refused = mod_client.get(edit_url(study))
    assert refused.status_code == 409
    assert "Participants have joined this deliberation" in refused.content.decode()
    assert 'name="title"' not in refused.content.decode()


def test_only_moderators_of_the_deliberation_can_edit_it(client, django_user_model, study):
    before = _setup(study)
    someone = django_user_model.objects.create_user("someone", password="x-long-pass")
    client.force_login(someone)
    assert client.get(edit_url(study)).status_code == 403
    assert client.post(edit_url(study), study_form(title="Taken")).status_code == 403
    other = django_user_model.objects.create_user("other-mod", password="x-long-pass")
    other.user_permissions.add(
        Permission.objects.get(content_type__app_label="deliberation", codename="moderate")
    )
    client.force_login(other)
    assert client.post(edit_url(study), study_form(title="Taken")).status_code == 404
    assert _setup(study) == before


def test_a_pinned_reward_model_is_kept_by_an_edit(moderator):
    """A pin is an operator's choice the form does not show: the deliberation's stays, and a
    condition's stays while the condition keeps its name."""
    deliberation = deliberation_create(
        created_by=moderator,
        title="Pinned",
        questions=["Should buses be free?"],
        conditions=[{"name": "kept"}, {"name": "renamed"}],
    )
    Deliberation.objects.filter(pk=deliberation.pk).update(
        mediation_config={**deliberation.mediation_config, PIN_KEY: 7}
    )
    Condition.objects.filter(deliberation=deliberation).update(mediation_config={PIN_KEY: 7})
    deliberation_setup_update(
        deliberation=deliberation,
        actor=moderator,
        title="Pinned",
        questions=["Should buses be free?"],
        n_candidates=4,
        conditions=[{"name": "kept", "mediation_config": {"n_candidates": 2}}, {"name": "new"}],
    )
    deliberation.refresh_from_db()
    assert deliberation.mediation_config[PIN_KEY] == 7
    assert deliberation.mediation_config["n_candidates"] == 4
    assert list(deliberation.conditions.values_list("name", "mediation_config")) == [
        ("kept", {"n_candidates": 2, PIN_KEY: 7}),
        ("new", {}),
    ]


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(120)
def test_a_join_that_has_not_committed_yet_still_stops_the_edit(moderator):
    """A join has inserted its participant and not committed when the edit starts: the edit
    waits for it (the deliberation's row lock) and then refuses, instead of checking before the
    participant is visible and writing a set-up under someone who has joined."""
    deliberation = deliberation_create(
        created_by=moderator, title="Race", questions=["Should buses be free?"]
    )
    inserted, release = threading.Event(), threading.Event()
    outcome: dict = {}

    def join():
        try:
            with transaction.atomic():
                participant_join(deliberation=deliberation)
                inserted.set()
                release.wait(timeout=60)
        finally:
            connection.close()

    def edit():
        try:
            deliberation_setup_update(
                deliberation=deliberation,
                actor=moderator,
                title="Changed under a join",
                questions=["Should buses be free?"],
            )
        except SetupLocked as exc:
            outcome["refused"] = exc
        else:
            outcome["saved"] = True
        finally:
            connection.close()

    joiner = threading.Thread(target=join)
    joiner.start()
    assert inserted.wait(timeout=30)
    editor = threading.Thread(target=edit)
    editor.start()
    _until_waiting_for_a_lock_or_done(editor)
    release.set()
    joiner.join(timeout=60)
    editor.join(timeout=60)
    assert "refused" in outcome, outcome
    deliberation.refresh_from_db()
    assert deliberation.title == "Race"
    assert deliberation.participants.count() == 1


def _until_waiting_for_a_lock_or_done(thread: threading.Thread) -> None:
    """Until another connection of this database waits for a lock (or `thread` has finished):
    the edit is then queued behind the join. A bound on the wait, not a timing assertion."""
    deadline = time.monotonic() + 30
    with connection.cursor() as cursor:
        while thread.is_alive() and time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.05)
