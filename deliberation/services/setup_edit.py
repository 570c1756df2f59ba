"""Editing a deliberation's whole set-up while nobody has joined it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import transaction

from deliberation.errors import DomainError
from deliberation.models import AuditLog, Condition, Deliberation
from deliberation.selectors.model_versions import PIN_KEY
from deliberation.services.deliberations import (
    default_consent_text,
    deliberation_setup_clean,
    is_default_consent_text,
    questions_link,
    questions_save,
)
from deliberation.services.setup_lock import setup_lock_for_edit


class SetupLocked(DomainError):
    """The set-up can no longer change: people have joined the deliberation."""

    status = 409


SETUP_LOCKED_MESSAGE = (
    "Participants have joined this deliberation, so its set-up can no longer change: everyone "
    "in a study takes part under the same set-up. Clone it into a new draft to run it "
    "differently."
)


def deliberation_setup_update(
    *, deliberation: Deliberation, actor, **settings: Any
) -> Deliberation:
    """Replace the whole set-up of `deliberation` (`settings`: the keyword arguments of
    `deliberation_setup_clean`, as for `deliberation_create`) while nobody has joined it, and
    write what changed to the audit log with `actor`. Its identity stays: public id (and so the
    join link), owner, status, consent text and version, dates; only the platform's own consent
    text follows a change of language (nobody has agreed to it yet). The questions and conditions
    are replaced by those given, in order. A reward model version pinned with `reward_model_pin` (an
    operator's choice the set-up form does not show) is kept: the deliberation's, and each
    condition's that keeps its name.

    Refused with `SetupLocked` once a participant (a person or a bot) has joined, and with
    `DomainError` for a set-up `deliberation_create` would refuse; a refusal writes nothing.

    A join cannot slip in between the check and the writes: the edit first takes the
    deliberation's set-up lock exclusive (`services.setup_lock`), which a join holds shared from
    before it inserts its participant until it commits. So the edit waits for the joins in
    flight, and its count of participants, a later statement under READ COMMITTED, sees them
    and refuses; a join that comes later waits until the edit has committed and is seated under
    the new set-up. Locking the deliberation's row alone would not do: the joiner's row locks it
    (FOR KEY SHARE, for its foreign key) only at commit, Django's foreign keys being deferred.
    The row is then locked FOR UPDATE as the other set-up changes lock it (status, consent).
    Only what a join checked before its insert (that the deliberation is open and, for a panel,
    that the link brought panel ids) was read from the set-up before the edit.
    """
    setup = deliberation_setup_clean(**settings)
    with transaction.atomic():
        setup_lock_for_edit(deliberation.pk)
        current = Deliberation.objects.select_for_update().get(pk=deliberation.pk)
        if current.participants.exists() or current.groups.exists():
            raise SetupLocked(SETUP_LOCKED_MESSAGE, code="setup_locked")
        fields = dict(setup.fields)
        if fields["language"] != current.language and is_default_consent_text(current.consent_text):
            fields["consent_text"] = default_consent_text(fields["language"])
        fields["mediation_config"] = _pin_kept(current.mediation_config, fields["mediation_config"])
        old_conditions = list(current.conditions.order_by("id").values(*CONDITION_FIELDS))
        pins = {c["name"]: c["mediation_config"] for c in old_conditions}
        new_conditions = [
            {**arm, "mediation_config": _pin_kept(pins.get(arm["name"]), arm["mediation_config"])}
            for arm in setup.conditions
        ]
        old_questions = list(
            current.question_links.order_by("position").values_list("question_id", flat=True)
        )
        changed = {
            name: {"from": getattr(current, name), "to": value}
            for name, value in fields.items()
            if getattr(current, name) != value
        }
        for name, value in fields.items():
            setattr(current, name, value)
        current.save(update_fields=[*fields, "updated_at"])
        chosen = questions_save(setup.questions)
        current.question_links.all().delete()
        questions_link(current, chosen)
        current.conditions.all().delete()
        Condition.objects.bulk_create(
            Condition(deliberation=current, **arm) for arm in new_conditions
        )
        if [q.pk for q in chosen] != old_questions:
            changed["questions"] = {"from": old_questions, "to": [q.pk for q in chosen]}
        if new_conditions != old_conditions:
            changed["conditions"] = {"from": old_conditions, "to": new_conditions}
        AuditLog.objects.create(
            actor=actor,
            action="deliberation_setup_update",
            target_type="deliberation",
            target_id=current.pk,
            data={"changed": changed},
        )
    return current


CONDITION_FIELDS = (
    "name",
    "description",
    "mediation_config",
    "comparisons",
    "baseline_config",
    "exclusion",
)


def _pin_kept(old: Mapping[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """`new` mediation settings with the reward model version pinned in `old`, if any."""
    if old and old.get(PIN_KEY) is not None and PIN_KEY not in new:
        return {**new, PIN_KEY: old[PIN_KEY]}
    return new
