"""Pilot a whole study with bot participants, through the same services and tasks as people.

    python manage.py simulate [--groups G] [--size K] [--rounds R] [--iterations I]
                              [--conditions NAME,...] [--exclusion-count N] [--json]
                              [--question-source demo|bank|built-in] [--seed S]
                              [--use-broker [--timeout SECONDS]]
                              [--bot-bias ROLE=DELTA ...] [--exclusion-penalty D]

A deliberation of R questions (one round each, asked in order) with I iterations per round (the
opinion iteration and I - 1 critique iterations) and one condition per name given, each a preset
of `PRESETS`. Bots join and consent (groups form as they fill, and the platform assigns each new
group a condition, balanced and at random), then walk the step machine as people do: position
rating, opinion, ratings and ranking of the statements shown, critiques of the winner they saw,
the final ranking between a round's winners, the position rating after the round and the survey.
Mediation runs in the `deliberation.tasks.mediate_iteration` task the services enqueue on
commit. Tasks run in this process, one after another, for the command's duration
(`services.enqueue.tasks_run_here`), unless `--use-broker` is given: then a running Celery worker
does the work and the command waits until every group has finished and every member has completed,
or something failed.

With `--json`, stdout carries exactly one JSON object::

    {"deliberation": public id,
     "settings": {"groups", "size", "rounds", "iterations", "conditions": [name],
                  "exclusion_count", "question_source", "seed", "bot_bias": {role: delta},
                  "exclusion_penalty"},
     "questions": [text, in the order asked],
     "conditions": [{"name", "description", "mediation_config", "comparisons", "exclusion",
                     "groups": [group number]}],
     "groups": [each as `deliberation.selectors.simulation.group_report` builds it]}

`--bot-bias ROLE=DELTA` (repeatable) and `--exclusion-penalty D` plant effects with a known
truth (`deliberation.services.bots.bot_behaviour_set`): bots rate statements of that role DELTA
points higher on average (negative: lower), and bots left out of a round's mediation rate its
winners D points lower. `manage.py report` should then find them.

Progress and logging go to stderr. After printing, the command fails when a group did not finish
every round and iteration or a member still owes an answer.
"""

from __future__ import annotations

import contextlib
import json
import logging
import random
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone
from tqdm import tqdm

from deliberation.errors import DomainError
from deliberation.models import Deliberation, Group, Iteration, Participant, Provenance, Question
from deliberation.selectors.simulation import conditions_report, group_report
from deliberation.selectors.simulation_summary import group_problem, study_summary
from deliberation.services.bots import bot_behaviour_set, bots_act
from deliberation.services.deliberations import (
    CRITIQUE_ITERATIONS_MAX,
    GROUP_SIZE_MAX,
    deliberation_create,
    question_create,
)
from deliberation.services.enqueue import tasks_run_here
from deliberation.services.participants import participant_consent, participant_join
from deliberation.services.questions import bank_questions_ensure

GROUPS_MAX = 1000
ROUNDS_MAX = 20
ITERATIONS_MAX = 1 + CRITIQUE_ITERATIONS_MAX
# Passes over a group's bots allowed per iteration before the command gives up on a group that
# does not finish (a pass lets every bot do all its step allows; an iteration needs about two).
BOT_PASSES_PER_ITERATION = 4

# What `--conditions` can name: `deliberation_create`'s condition dicts, less the name.
PRESETS: dict[str, dict] = {
    "control": {"description": "The deliberation's own mediation; the winner is shown alone."},
    "baseline": {
        "description": "A baseline model's statement (N = 1) is shown beside the winner.",
        "comparisons": ["baseline"],
    },
    "best_opinion": {
        "description": "The group's best human opinion is shown beside the winner.",
        "comparisons": ["best_opinion"],
    },
    "exclusion": {
        "description": "Each round mediates from all members but a random few; everyone rates.",
        "exclusion": True,
    },
    "placebo": {
        "description": "An A/A check: the winner is one sample (N = 1) and the baseline beside it "
        "another sample of the same generator, so neither should be preferred.",
        "mediation_config": {"n_candidates": 1},
        "comparisons": ["baseline"],
    },
    "no_rerank": {
        "description": "One candidate, no reranking by the reward model (N = 1).",
        "mediation_config": {"n_candidates": 1},
    },
}

SOURCES = ("demo", "bank", "built-in")
BUILT_IN_SOURCE = "simulate"
# The built-in source, for a machine with neither demo questions nor the question bank:
# (question, affirming statement, negating statement, topic).
BUILT_IN_QUESTIONS = [
    (
        "Should towns close their central streets to cars on weekends?",
        "Towns should close their central streets to cars on weekends.",
        "Towns should NOT close their central streets to cars on weekends.",
        "transport",
    ),
    (
        "Should public libraries open on Sundays?",
        "Public libraries should open on Sundays.",
        "Public libraries should NOT open on Sundays.",
        "culture",
    ),
    (
        "Should secondary schools start later in the morning?",
        "Secondary schools should start later in the morning.",
        "Secondary schools should NOT start later in the morning.",
        "education",
    ),
    (
        "Should supermarkets be required to give unsold food to charities?",
        "Supermarkets should be required to give unsold food to charities.",
        "Supermarkets should NOT be required to give unsold food to charities.",
        "food",
    ),
    (
        "Should the voting age be lowered to 16?",
        "The voting age should be lowered to 16.",
        "The voting age should NOT be lowered to 16.",
        "democracy",
    ),
    (
        "Should cities plant trees in place of some parking spaces?",
        "Cities should plant trees in place of some parking spaces.",
        "Cities should NOT plant trees in place of some parking spaces.",
        "environment",
    ),
    (
        "Should employers offer a four-day working week?",
        "Employers should offer a four-day working week.",
        "Employers should NOT offer a four-day working week.",
        "work",
    ),
    (
        "Should museums be free to enter for everyone?",
        "Museums should be free to enter for everyone.",
        "Museums should NOT be free to enter for everyone.",
        "culture",
    ),
]


def condition_presets(names: str) -> list[dict]:
    """`deliberation_create`'s conditions for a comma-separated list of preset names (an empty
    list for none); `CommandError` naming the presets for an unknown or repeated name."""
    chosen = [name.strip() for name in (names or "").split(",") if name.strip()]
    unknown = [name for name in chosen if name not in PRESETS]
    if unknown:
        raise CommandError(
            f"Unknown condition(s): {', '.join(unknown)}. The presets are: {', '.join(PRESETS)}."
        )
    repeated = sorted({name for name in chosen if chosen.count(name) > 1})
    if repeated:
        raise CommandError(f"Each condition can be named once; repeated: {', '.join(repeated)}.")
    return [{"name": name, **PRESETS[name]} for name in chosen]


def bot_biases(specs: list[str] | None) -> dict[str, float]:
    """`{role: delta}` from `--bot-bias ROLE=DELTA` arguments; `CommandError` for one that is not
    of that form or names a role twice (the roles themselves are checked by the service)."""
    out: dict[str, float] = {}
    for spec in specs or []:
        role, sep, delta = spec.partition("=")
        role = role.strip()
        try:
            value = float(delta)
        except ValueError:
            value = None
        if not sep or not role or value is None:
            raise CommandError(f"--bot-bias takes ROLE=DELTA, e.g. baseline=-1.5; got {spec!r}.")
        if role in out:
            raise CommandError(f"--bot-bias names {role} twice.")
        out[role] = value
    return out


class Command(BaseCommand):
    help = (
        "Pilot a study with bot participants through the real services and the mediation task: "
        "several rounds, critique iterations and conditions; print a summary, or with --json "
        "one JSON object on stdout."
    )

    def add_arguments(self, parser):
        parser.add_argument("--groups", type=int, default=1, help="Number of groups (default 1).")
        parser.add_argument("--size", type=int, default=5, help="Members per group (default 5).")
        parser.add_argument(
            "--rounds",
            type=int,
            default=1,
            help="Questions asked in order, one round each (default 1).",
        )
        parser.add_argument(
            "--iterations",
            type=int,
            default=1,
            help="Iterations per round: the opinion iteration and I - 1 critique iterations "
            f"(default 1, at most {ITERATIONS_MAX}).",
        )
        parser.add_argument(
            "--conditions",
            default="",
            help="Comma-separated conditions, groups assigned to them balanced and at random; "
            f"presets: {', '.join(PRESETS)}. Default: none.",
        )
        parser.add_argument(
            "--exclusion-count",
            type=int,
            default=1,
            help="Members each round leaves out in the exclusion condition (default 1).",
        )
        parser.add_argument(
            "--bot-bias",
            action="append",
            metavar="ROLE=DELTA",
            help="Planted effect: bots rate statements of ROLE (candidate, best_opinion, "
            "baseline) DELTA points higher on average (negative: lower). Repeatable.",
        )
        parser.add_argument(
            "--exclusion-penalty",
            type=float,
            default=0.0,
            metavar="D",
            help="Planted effect: bots left out of a round's mediation rate its winners D points "
            "lower (default 0).",
        )
        parser.add_argument(
            "--json", action="store_true", help="Print one JSON object on stdout, nothing else."
        )
        parser.add_argument(
            "--question-source",
            choices=SOURCES,
            help="Take the questions from the demo questions in the database, the question bank "
            "or the built-in ones. Default: the first of these with enough questions.",
        )
        parser.add_argument("--seed", type=int, help="Seed for the choice of questions.")
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
        rounds, iterations = options["rounds"], options["iterations"]
        for value, name, high in (
            (groups, "--groups", GROUPS_MAX),
            (size, "--size", GROUP_SIZE_MAX),
            (rounds, "--rounds", ROUNDS_MAX),
            (iterations, "--iterations", ITERATIONS_MAX),
        ):
            if not 1 <= value <= high:
                raise CommandError(f"{name} must be from 1 to {high}.")
        conditions = condition_presets(options["conditions"])
        biases = bot_biases(options["bot_bias"])
        penalty = options["exclusion_penalty"]
        use_broker = options["use_broker"]
        if use_broker and settings.CELERY_BROKER_URL.startswith("memory://"):
            raise CommandError("--use-broker needs CELERY_BROKER_URL pointing at a real broker.")
        seed = options["seed"] if options["seed"] is not None else random.randrange(2**31)
        verbose = options["verbosity"] >= 2

        # stdout is for the result only: anything else that writes there goes to stderr.
        with contextlib.redirect_stdout(sys.stderr), _quiet_celery(verbose):
            # A refused set-up writes nothing, not even the questions it chose.
            with transaction.atomic():
                source, questions = choose_questions(
                    options["question_source"], rounds, random.Random(seed)
                )
                try:
                    deliberation = deliberation_create(
                        created_by=None,
                        title=f"Simulation {timezone.now():%Y-%m-%d %H:%M:%S}",
                        questions=questions,
                        group_size=size,
                        min_group_size=size,
                        critique_iterations=iterations - 1,
                        conditions=conditions,
                        exclusion_count=options["exclusion_count"],
                        fill_with_bots=False,
                    )
                    if biases or penalty:
                        bot_behaviour_set(
                            deliberation=deliberation, bias=biases, exclusion_penalty=penalty
                        )
                except DomainError as exc:
                    raise CommandError(exc.message) from exc
            logging.getLogger(__name__).info(
                "simulating %d group(s) of %d, %d round(s) of %d iteration(s), conditions %s, "
                "in deliberation %s (questions from %s, seed %d)",
                groups,
                size,
                rounds,
                iterations,
                ",".join(c["name"] for c in conditions) or "none",
                deliberation.public_id,
                source,
                seed,
            )
            if use_broker:
                self._join(deliberation, groups * size)
                self._wait_for_worker(deliberation, groups, options["timeout"])
            else:
                with tasks_run_here():
                    self._join(deliberation, groups * size)
                    self._run_bots(deliberation, rounds * iterations)
            reports = [
                group_report(group)
                for group in Group.objects.filter(deliberation=deliberation)
                .select_related("condition")
                .order_by("number")
            ]

        if options["json"]:
            result = {
                "deliberation": str(deliberation.public_id),
                "settings": {
                    "groups": groups,
                    "size": size,
                    "rounds": rounds,
                    "iterations": iterations,
                    "conditions": [c["name"] for c in conditions],
                    "exclusion_count": deliberation.exclusion_count,
                    "question_source": source,
                    "seed": seed,
                    "bot_bias": biases,
                    "exclusion_penalty": penalty,
                },
                "questions": [q.text for q in questions],
                "conditions": conditions_report(deliberation),
                "groups": reports,
            }
            self.stdout.write(json.dumps(result))
        else:
            self.stdout.write(study_summary(deliberation, questions, reports))
        problems = [
            p
            for p in (group_problem(r, rounds=rounds, iterations=iterations) for r in reports)
            if p
        ]
        if problems:
            raise CommandError(
                f"{len(problems)} of {len(reports)} group(s) did not finish: " + "; ".join(problems)
            )

    def _join(self, deliberation: Deliberation, count: int) -> None:
        """Bots join and consent one by one; a group starts as soon as it is full."""
        for _ in tqdm(range(count), desc="joining", unit="bot", file=sys.stderr):
            bot = participant_join(deliberation=deliberation, provenance=Provenance.BOT_CITIZEN)
            participant_consent(participant=bot, version=deliberation.consent_version)

    def _run_bots(self, deliberation: Deliberation, iterations: int) -> None:
        """Let the bots of every group act until nothing moves any more.

        The services already enqueue `bots_act` whenever a phase opens, so with the tasks run in
        this process most of the study has happened by now; these passes make sure of it."""
        groups = list(Group.objects.filter(deliberation=deliberation).order_by("number"))
        for group in tqdm(groups, desc="groups", unit="group", file=sys.stderr):
            for _ in range(BOT_PASSES_PER_ITERATION * iterations):
                # A finished group may still owe end-of-round answers: go on while bots act.
                if _has_failed(group) or bots_act(group=group) == 0:
                    break

    def _wait_for_worker(self, deliberation: Deliberation, groups: int, timeout: float) -> None:
        """Until every group has finished and its members have completed (every answer they owe
        saved), or an iteration of the group failed."""
        deadline = time.monotonic() + timeout
        settled = (
            Group.objects.filter(deliberation=deliberation)
            .exclude(status__in=[Group.Status.FORMING, Group.Status.ACTIVE])
            .exclude(members__status=Participant.Status.ACTIVE)
        )
        failed = Iteration.objects.filter(
            round__group__deliberation=deliberation, state=Iteration.State.FAILED
        )
        with tqdm(
            total=groups, desc="waiting for the worker", unit="group", file=sys.stderr
        ) as bar:
            while True:
                done = len(
                    set(settled.values_list("pk", flat=True))
                    | set(failed.values_list("round__group_id", flat=True))
                )
                bar.update(done - bar.n)
                if done >= groups:
                    return
                if time.monotonic() > deadline:
                    raise CommandError(
                        f"Timed out after {timeout:g} s with {done} of {groups} group(s) "
                        "finished. Is a Celery worker running on this broker?"
                    )
                time.sleep(0.25)


def choose_questions(
    source: str | None, count: int, rng: random.Random
) -> tuple[str, list[Question]]:
    """`count` distinct questions, in the order to ask them, and the source they came from: the
    demo questions in the database, the question bank, or the built-in ones. Without a source,
    the first of these that has `count` questions."""
    demo = list(Question.objects.filter(source="demo").order_by("pk"))
    path = Path(settings.QUESTION_BANK_PATH)
    if source is None:
        if len(demo) >= count:
            source = "demo"
        elif path.exists():
            source = "bank"
        else:
            source = "built-in"
    if source == "demo":
        if len(demo) < count:
            raise CommandError(
                f"There are {len(demo)} demo question(s) for {count} round(s); run "
                "`manage.py seed_demo` first, ask fewer rounds or choose another "
                "--question-source."
            )
        return source, rng.sample(demo, count)
    if source == "bank":
        if not path.exists():
            raise CommandError(f"The question bank is missing at {path}; set CG_SHARED_DIR.")
        bank = json.loads(path.read_text())
        if len(bank) < count:
            raise CommandError(f"The question bank has {len(bank)} question(s) for {count}.")
        return source, bank_questions_ensure(entries=rng.sample(bank, count))
    if len(BUILT_IN_QUESTIONS) < count:
        raise CommandError(
            f"There are {len(BUILT_IN_QUESTIONS)} built-in questions for {count} round(s); "
            "use --question-source bank or demo for more."
        )
    return source, [_built_in_question(*spec) for spec in rng.sample(BUILT_IN_QUESTIONS, count)]


def _built_in_question(text: str, affirming: str, negating: str, topic: str) -> Question:
    existing = Question.objects.filter(source=BUILT_IN_SOURCE, text=text).first()
    return existing or question_create(
        text=text,
        affirming_statement=affirming,
        negating_statement=negating,
        topic=topic,
        source=BUILT_IN_SOURCE,
    )


@contextlib.contextmanager
def _quiet_celery(verbose: bool):
    """Celery logs a line per task it runs in this process; keep that for -v 2."""
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
