"""Run whole rounds with bot participants, through the same services and tasks as people.

    python manage.py simulate --groups 2 --size 5 [--json] [--question-source demo|bank]
                              [--seed S] [--use-broker [--timeout SECONDS]]

Bots join and consent (groups form as they fill), write opinions, the round is mediated by the
`deliberation.tasks.mediate_iteration` task the services enqueue on commit, and the bots rate the
winner. Tasks run eagerly in this process for the command's duration, unless `--use-broker` is
given: then a running Celery worker does the work and the command waits for it.

With `--json`, stdout carries exactly one JSON object, `{"deliberation", "groups": [...]}` with
each group as `deliberation.selectors.simulation.group_report` builds it; progress and logging go
to stderr.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import random
import statistics
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from tqdm import tqdm

from config import celery_app
from deliberation.errors import DomainError
from deliberation.models import Deliberation, Group, Iteration, Provenance, Question
from deliberation.selectors.simulation import group_report
from deliberation.services.bots import bots_act
from deliberation.services.deliberations import GROUP_SIZE_MAX, deliberation_create, question_create
from deliberation.services.participants import participant_consent, participant_join

GROUPS_MAX = 1000
# Rounds over which bots are nudged before the command gives up on a group that does not finish
# (each pass lets every bot do what its phase asks; a round needs two: opinions, ratings).
BOT_PASSES_MAX = 20

BUILT_IN_QUESTION = {
    "text": "Should towns close their central streets to cars on weekends?",
    "affirming_statement": "Towns should close their central streets to cars on weekends.",
    "negating_statement": "Towns should NOT close their central streets to cars on weekends.",
    "topic": "transport",
    "source": "simulate",
}
BANK_SOURCE = "hm_questions"


def bank_path() -> Path:
    """The Habermas Machine question bank, `../shared/data/hm_questions.json` beside the
    repository unless `CG_SHARED_DIR` names the shared directory."""
    shared = os.environ.get("CG_SHARED_DIR") or Path(settings.BASE_DIR).parent / "shared"
    return Path(shared) / "data" / "hm_questions.json"


class Command(BaseCommand):
    help = (
        "Simulate deliberation rounds with bot participants through the real services and the "
        "mediation task; print a summary, or with --json one JSON object on stdout."
    )

    def add_arguments(self, parser):
        parser.add_argument("--groups", type=int, default=1, help="Number of groups (default 1).")
        parser.add_argument("--size", type=int, default=5, help="Members per group (default 5).")
        parser.add_argument(
            "--json", action="store_true", help="Print one JSON object on stdout, nothing else."
        )
        parser.add_argument(
            "--question-source",
            choices=["demo", "bank"],
            help="Take the question from the demo questions in the database or from the question "
            "bank. Default: demo questions if any, else the bank if present, else a built-in one.",
        )
        parser.add_argument("--seed", type=int, help="Seed for the choice of question.")
        parser.add_argument(
            "--use-broker",
            action="store_true",
            help="Leave the tasks to a running Celery worker and wait for it.",
        )
        parser.add_argument(
            "--timeout",
            type=float,
            default=300.0,
            help="With --use-broker: seconds to wait for the worker (default 300).",
        )

    def handle(self, *args, **options):
        groups, size = options["groups"], options["size"]
        if not 1 <= groups <= GROUPS_MAX:
            raise CommandError(f"--groups must be from 1 to {GROUPS_MAX}.")
        if not 1 <= size <= GROUP_SIZE_MAX:
            raise CommandError(f"--size must be from 1 to {GROUP_SIZE_MAX}.")
        use_broker = options["use_broker"]
        if use_broker and settings.CELERY_BROKER_URL.startswith("memory://"):
            raise CommandError("--use-broker needs CELERY_BROKER_URL pointing at a real broker.")
        seed = options["seed"] if options["seed"] is not None else random.randrange(2**31)
        verbose = options["verbosity"] >= 2

        # stdout is for the result only: anything else that writes there goes to stderr.
        with contextlib.redirect_stdout(sys.stderr), _quiet_celery(verbose):
            question = choose_question(options["question_source"], random.Random(seed))
            try:
                deliberation = deliberation_create(
                    created_by=None,
                    title=f"Simulation {timezone.now():%Y-%m-%d %H:%M:%S}",
                    questions=[question],
                    group_size=size,
                    min_group_size=size,
                    fill_with_bots=False,
                )
            except DomainError as exc:
                raise CommandError(exc.message) from exc
            logging.getLogger(__name__).info(
                "simulating %d group(s) of %d in deliberation %s (seed %d)",
                groups,
                size,
                deliberation.public_id,
                seed,
            )
            if use_broker:
                self._join(deliberation, groups * size)
                self._wait_for_worker(deliberation, groups, options["timeout"])
            else:
                with _eager_tasks():
                    self._join(deliberation, groups * size)
                    self._run_bots(deliberation)
            reports = [
                group_report(group)
                for group in Group.objects.filter(deliberation=deliberation).order_by("number")
            ]

        if options["json"]:
            self.stdout.write(
                json.dumps({"deliberation": str(deliberation.public_id), "groups": reports})
            )
        else:
            self.stdout.write(summary(deliberation, question, reports))
        unfinished = [r for r in reports if not _finished(r)]
        if unfinished:
            raise CommandError(
                f"{len(unfinished)} of {len(reports)} group(s) did not finish their round: "
                + "; ".join(_problem(r) for r in unfinished)
            )

    def _join(self, deliberation: Deliberation, count: int) -> None:
        """Bots join and consent one by one; a group starts as soon as it is full."""
        for _ in tqdm(range(count), desc="joining", unit="bot", file=sys.stderr):
            bot = participant_join(deliberation=deliberation, provenance=Provenance.BOT_CITIZEN)
            participant_consent(participant=bot, version=deliberation.consent_version)

    def _run_bots(self, deliberation: Deliberation) -> None:
        """Let the bots of every group act until the group is done or nothing moves any more.

        The services already enqueue `bots_act` whenever a phase opens, so with eager tasks most
        of the round has happened by now; these passes make sure of it."""
        groups = list(Group.objects.filter(deliberation=deliberation).order_by("number"))
        for group in tqdm(groups, desc="rounds", unit="group", file=sys.stderr):
            for _ in range(BOT_PASSES_MAX):
                # A finished group may still owe end-of-round answers: go on while bots act.
                if _has_failed(group) or bots_act(group=group) == 0:
                    break

    def _wait_for_worker(self, deliberation: Deliberation, groups: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        finished = Group.objects.filter(deliberation=deliberation).exclude(
            status__in=[Group.Status.FORMING, Group.Status.ACTIVE]
        )
        failed = Iteration.objects.filter(
            round__group__deliberation=deliberation, state=Iteration.State.FAILED
        )
        with tqdm(
            total=groups, desc="waiting for the worker", unit="group", file=sys.stderr
        ) as bar:
            while True:
                done = finished.count() + failed.values("round__group").distinct().count()
                bar.update(done - bar.n)
                if done >= groups:
                    return
                if time.monotonic() > deadline:
                    raise CommandError(
                        f"Timed out after {timeout:g} s with {done} of {groups} group(s) "
                        "finished. Is a Celery worker running on this broker?"
                    )
                time.sleep(0.25)


def choose_question(source: str | None, rng: random.Random) -> Question:
    """A demo question from the database, a question from the bank, or the built-in one."""
    demo = list(Question.objects.filter(source="demo").order_by("pk"))
    if source == "demo" or (source is None and demo):
        if not demo:
            raise CommandError("There are no demo questions; run `manage.py seed_demo` first.")
        return rng.choice(demo)
    path = bank_path()
    if source == "bank" or (source is None and path.exists()):
        if not path.exists():
            raise CommandError(f"The question bank is missing at {path}; set CG_SHARED_DIR.")
        return _bank_question(rng.choice(json.loads(path.read_text())))
    existing = Question.objects.filter(
        source=BUILT_IN_QUESTION["source"], text=BUILT_IN_QUESTION["text"]
    ).first()
    return existing or question_create(**BUILT_IN_QUESTION)


def _bank_question(entry: dict) -> Question:
    existing = Question.objects.filter(external_id=entry["id"]).first()
    if existing is not None:
        return existing
    split = entry.get("split", "")
    return question_create(
        text=entry["question"],
        affirming_statement=entry.get("affirming_statement", ""),
        negating_statement=entry.get("negating_statement", ""),
        topic=str(entry.get("topic", "")),
        split=split if split in Question.Split.values else "",
        source=BANK_SOURCE,
        external_id=entry["id"],
    )


@contextlib.contextmanager
def _eager_tasks():
    """Run Celery tasks in this process, inline, for the duration."""
    before = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    try:
        yield
    finally:
        celery_app.conf.task_always_eager = before


@contextlib.contextmanager
def _quiet_celery(verbose: bool):
    """Celery logs a line per eager task; keep that for -v 2."""
    logger = logging.getLogger("celery.app.trace")
    before = logger.level
    if not verbose:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(before)


def _has_failed(group: Group) -> bool:
    return Iteration.objects.filter(round__group=group, state=Iteration.State.FAILED).exists()


def _iterations(report: dict) -> list[dict]:
    return [it for round_ in report["rounds"] for it in round_["iterations"]]


def _finished(report: dict) -> bool:
    iterations = _iterations(report)
    return bool(iterations) and all(it["state"] == Iteration.State.DONE for it in iterations)


def _problem(report: dict) -> str:
    for iteration in _iterations(report):
        if iteration["state"] == Iteration.State.FAILED:
            return f"group {report['number']} failed: {iteration['failure_reason']}"
        if iteration["state"] != Iteration.State.DONE:
            return f"group {report['number']} stopped in state {iteration['state']}"
    return f"group {report['number']} has no round"


def summary(deliberation: Deliberation, question: Question, reports: list[dict]) -> str:
    """A few lines for people: each group's winner and how much its members agreed with it."""
    lines = [
        f"{deliberation.title}: {len(reports)} group(s) of {deliberation.group_size}, "
        f"deliberation {deliberation.public_id}",
        f"Question: {question.text}",
    ]
    everyone: list[int] = []
    for report in reports:
        for round_ in report["rounds"]:
            for iteration in round_["iterations"]:
                label = f"Group {report['number']}, iteration {iteration['index']}"
                if iteration["winner"] is None:
                    lines.append(f"{label}: no winner ({iteration['state']})")
                    continue
                agreement = [r["agreement"] for r in iteration["ratings"]]
                everyone += agreement
                mean = f"{statistics.fmean(agreement):.2f}" if agreement else "n/a"
                text = iteration["candidates"][iteration["winner"]]["text"]
                lines.append(
                    f"{label}: winner {iteration['winner']} of {len(iteration['candidates'])}, "
                    f"mean agreement {mean} from {len(agreement)} rating(s)\n  {_shorten(text)}"
                )
    if everyone:
        lines.append(f"Mean agreement overall: {statistics.fmean(everyone):.2f} (1-7)")
    return "\n".join(lines)


def _shorten(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
