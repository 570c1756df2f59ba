"""Joins that do not queue behind each other (issue 12, item 2), on PostgreSQL: many people
consent at once, each on a connection of their own, and every group fills exactly (no group
over its size, every seat once, each group started once); a join does not wait for another
join that is still seating someone."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, transaction

from deliberation.models import Group, Participant, Round
from deliberation.services.deliberations import deliberation_create
from deliberation.services.participants import participant_consent, participant_join

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(240)]

GROUP_SIZE = 5
PEOPLE = 40
THREADS = 12


def _deliberation():
    return deliberation_create(
        created_by=None,
        title="Rush",
        questions=["Should towns close their centres to private cars on Saturdays?"],
        group_size=GROUP_SIZE,
        min_group_size=GROUP_SIZE,
        n_candidates=2,
    )


def test_simultaneous_joins_fill_groups_exactly():
    deliberation = _deliberation()
    people = [participant_join(deliberation=deliberation) for _ in range(PEOPLE)]
    barrier = threading.Barrier(THREADS)
    chunks = [people[i::THREADS] for i in range(THREADS)]

    def consent_all(chunk: list[Participant]) -> int:
        try:
            barrier.wait(timeout=30)
            for person in chunk:
                participant_consent(participant=person, version=deliberation.consent_version)
            return len(chunk)
        finally:
            connection.close()

    with ThreadPoolExecutor(THREADS) as pool:
        assert sum(pool.map(consent_all, chunks)) == PEOPLE

    seated = Participant.objects.filter(deliberation=deliberation, group__isnull=False)
    assert seated.count() == PEOPLE
    groups = list(Group.objects.filter(deliberation=deliberation).order_by("number"))
    assert [g.number for g in groups] == list(range(1, len(groups) + 1))
    for group in groups:
        seats = sorted(group.members.values_list("seat", flat=True))
        assert seats == list(range(len(seats))), (group.number, seats)
        assert len(seats) <= GROUP_SIZE
        if group.status == Group.Status.ACTIVE:
            assert len(seats) == GROUP_SIZE
            assert Round.objects.filter(group=group).count() == 1
            assert set(group.members.values_list("status", flat=True)) == {
                Participant.Status.ACTIVE
            }
        else:
            assert group.status == Group.Status.FORMING
            assert len(seats) < GROUP_SIZE
    # Concurrency may leave a few groups forming at once, never a pile of them: the people
    # after them fill them (what is left is at most one partial group per joining thread).
    active = sum(g.status == Group.Status.ACTIVE for g in groups)
    assert active >= PEOPLE // GROUP_SIZE - THREADS
    # The stragglers' groups fill as the next people arrive, and then start (once each).
    for _ in range(GROUP_SIZE * len(groups) - PEOPLE):
        late = participant_join(deliberation=deliberation)
        participant_consent(participant=late, version=deliberation.consent_version)
    groups = Group.objects.filter(deliberation=deliberation)
    assert set(groups.values_list("status", flat=True)) == {Group.Status.ACTIVE}
    for group in groups:
        assert group.members.count() == GROUP_SIZE
        assert Round.objects.filter(group=group).count() == 1


def test_a_join_does_not_wait_for_one_still_seating():
    deliberation = _deliberation()
    earlier, first, second = (participant_join(deliberation=deliberation) for _ in range(3))
    # A group is forming already (opening one is the only step that takes the deliberation's
    # lock); `first` is seated in it and holds it while `second` joins.
    earlier = participant_consent(participant=earlier, version=deliberation.consent_version)
    seated, release = threading.Event(), threading.Event()

    def hold_a_seat() -> int:
        try:
            with transaction.atomic():
                group = participant_consent(
                    participant=first, version=deliberation.consent_version
                ).group_id
                seated.set()
                release.wait(timeout=60)
            return group
        finally:
            connection.close()

    with ThreadPoolExecutor(1) as pool:
        holder = pool.submit(hold_a_seat)
        assert seated.wait(timeout=60)
        try:
            with transaction.atomic():
                # Waiting for the other join's locks would be an error here, not a delay.
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL lock_timeout = '5s'")
                second = participant_consent(
                    participant=second, version=deliberation.consent_version
                )
        finally:
            release.set()
        first_group = holder.result(timeout=60)

    assert first_group == earlier.group_id
    assert second.group_id is not None
    assert second.group_id != first_group
