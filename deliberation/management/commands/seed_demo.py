"""Set up the local demo: a moderator account, a few questions, an open demo deliberation, a
whole-protocol study, and the demo deliberation in German (participant pages in German).

Safe to run again: it creates only what is missing, and resets the demo moderator's password to
the one it prints, so the printed login always works.
"""

import os

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from deliberation.errors import DomainError
from deliberation.models import Deliberation, Question
from deliberation.selectors.moderator import join_path
from deliberation.services.deliberations import deliberation_create, question_create
from deliberation.services.moderators import moderator_ensure
from inference.base import RoundText
from inference.generators.extractive import ExtractiveGenerator

DEMO_USERNAME = "moderator"
# Only acceptable because this is the embedded demo on 127.0.0.1; never deploy it.
DEMO_PASSWORD = "common-ground-demo"
DEMO_TITLE = "Demo deliberation"
STUDY_TITLE = "Demo study: two questions, a revision, two conditions"
GERMAN_TITLE = "Demo-Diskussion (Deutsch)"
DEMO_ADDR = "127.0.0.1:8000"

# Written for this project (not taken from any published question bank).
DEMO_QUESTIONS = [
    {
        "external_id": "demo-four-day-school-week",
        "topic": "education",
        "text": "Should schools move to a four-day week?",
        "affirming_statement": (
            "Schools should move to a four-day week: a longer weekend gives pupils rest and "
            "family time, and lets schools save on running costs."
        ),
        "negating_statement": (
            "Schools should keep a five-day week: a shorter week squeezes learning into long "
            "days and leaves working parents to find childcare on the fifth day."
        ),
    },
    {
        "external_id": "demo-free-public-transport",
        "topic": "transport",
        "text": "Should local buses and trams be free to ride?",
        "affirming_statement": (
            "Local buses and trams should be free: it would cut traffic and pollution and help "
            "people on low incomes get to work and services."
        ),
        "negating_statement": (
            "Local buses and trams should keep charging fares: the money pays for better "
            "service, and a free ride does little for places that have no good routes."
        ),
    },
    {
        "external_id": "demo-phones-in-classrooms",
        "topic": "education",
        "text": "Should mobile phones be banned during the school day?",
        "affirming_statement": (
            "Phones should be banned during the school day: they distract pupils, feed "
            "bullying and take time away from talking to each other."
        ),
        "negating_statement": (
            "Phones should not be banned: pupils need to reach their families, and schools "
            "should teach sensible use rather than forbid it."
        ),
    },
    {
        "external_id": "demo-car-free-city-centre",
        "topic": "urban planning",
        "text": "Should city centres be closed to private cars?",
        "affirming_statement": (
            "City centres should be closed to private cars: streets become safer, quieter and "
            "cleaner, and space is freed for people, bikes and trees."
        ),
        "negating_statement": (
            "City centres should stay open to cars: older and disabled people, tradespeople "
            "and shops depend on being able to drive in."
        ),
    },
    {
        "external_id": "demo-voting-age-16",
        "topic": "democracy",
        "text": "Should the voting age be lowered to 16?",
        "affirming_statement": (
            "The voting age should be lowered to 16: young people live longest with today's "
            "decisions, and voting early builds a lasting habit."
        ),
        "negating_statement": (
            "The voting age should stay at 18: it matches the age of other adult rights and "
            "responsibilities, and most 16-year-olds do not ask for it."
        ),
    },
]


# The German demo's question, written for this project; its bots write German too.
GERMAN_QUESTION = {
    "external_id": "demo-de-autofreie-innenstadt",
    "topic": "Stadtplanung",
    "text": "Sollen Innenstädte für private Autos gesperrt werden?",
    "affirming_statement": (
        "Innenstädte sollen für private Autos gesperrt werden: Die Straßen werden sicherer, "
        "ruhiger und sauberer, und es entsteht Platz für Menschen, Fahrräder und Bäume."
    ),
    "negating_statement": (
        "Innenstädte sollen für private Autos offen bleiben: Ältere und behinderte Menschen, "
        "Handwerksbetriebe und Geschäfte sind darauf angewiesen, hineinfahren zu können."
    ),
}


# Three groups, written for this project, on the first demo question: what the embedded mediator
# makes of a split group, of an agreeing group, and of critiques of a winner. The statements are
# generated afresh by the real extractive generator each time the demo is set up.
EXAMPLE_QUESTION = {
    "question": "Should schools move to a four-day week?",
    "affirming_statement": "Schools should move to a four-day week.",
    "negating_statement": "Schools should NOT move to a four-day week.",
}
EXAMPLE_SPLIT = [
    "Honestly I would welcome a four-day week. My kids already find long days exhausting. "
    "Whatever we decide, children who rely on free school meals must still get them.",
    "I am fairly sure that schools should keep a five-day week. I also work shifts, so a fifth "
    "day off means paying for childcare I can't afford.",
    "Schools should move to a four-day week. Teachers are leaving the profession and this would "
    "help keep them.",
    "I'm against it. Children who rely on free school meals must still get them, and a closed "
    "school leaves them without a safe place.",
]
EXAMPLE_AGREEING = [
    "Schools should move to a four-day week. Teachers are exhausted and leaving.",
    "Yes, I support it. My daughter would finally have time for music lessons.",
    "A four-day week is a good idea because longer weekends help families spend time together.",
]
EXAMPLE_CRITIQUES = [
    "It says nothing about the buses, which would have to change their timetables.",
    "Fine by me.",
    "I don't agree that a fifth day off means paying for childcare, my employer runs a creche.",
    "Good.",
]


def example_statements(seed: int = 0) -> dict[str, str]:
    """The embedded mediator's first candidate for each example group, and a revision of the
    split group's statement after `EXAMPLE_CRITIQUES` (what the README shows)."""
    generator = ExtractiveGenerator()
    split, agreeing = (
        generator.generate(RoundText(**EXAMPLE_QUESTION, opinions=ops), n=1, seed=seed)[0].text
        for ops in (EXAMPLE_SPLIT, EXAMPLE_AGREEING)
    )
    critiqued = RoundText(
        **EXAMPLE_QUESTION,
        opinions=EXAMPLE_SPLIT,
        previous_winner=split,
        critiques=EXAMPLE_CRITIQUES,
    )
    revised = generator.generate(critiqued, n=1, seed=seed)[0].text
    return {"split group": split, "agreeing group": agreeing, "after the critiques": revised}


def demo_base_url(addr: str) -> str:
    """runserver's address ("8123", "0.0.0.0:8123", "[::1]:8123") -> the URL to open it at."""
    addr = addr.strip()
    if addr.isdigit():
        return f"http://127.0.0.1:{addr}"
    host, _, port = addr.rpartition(":")
    if not host or not port.isdigit():
        raise CommandError(f"--addr must be PORT or HOST:PORT, not {addr!r}.")
    if host in ("0.0.0.0", "[::]", "0"):
        host = "127.0.0.1"  # listening everywhere: this machine can open it here
    return f"http://{host}:{port}"


class Command(BaseCommand):
    help = (
        "Create the demo moderator, demo questions and the open demo deliberations, one of them "
        "in German (idempotent)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--addr",
            default=DEMO_ADDR,
            help="The address the server will listen on, as given to runserver (host:port); "
            f"the links printed use it. Default {DEMO_ADDR} (`make run`, RUN_ADDR there).",
        )

    def handle(self, *args, **options):
        base_url = demo_base_url(options["addr"])
        password = os.environ.get("DEMO_MODERATOR_PASSWORD") or DEMO_PASSWORD
        try:
            with transaction.atomic():
                moderator_ensure(
                    username=DEMO_USERNAME, password=password, validate=password != DEMO_PASSWORD
                )
                questions = [self._question(spec) for spec in DEMO_QUESTIONS]
                deliberation = Deliberation.objects.filter(title=DEMO_TITLE).first()
                created = deliberation is None
                if created:
                    deliberation = deliberation_create(
                        created_by=None,
                        title=DEMO_TITLE,
                        description="For trying the platform; bots fill the empty seats.",
                        questions=questions[:1],
                        group_size=5,
                        min_group_size=3,
                        n_candidates=16,
                        aggregation="welfare",
                        alpha=1.0,
                        fill_with_bots=True,
                    )
                study = Deliberation.objects.filter(title=STUDY_TITLE).first()
                if study is None:
                    study = deliberation_create(
                        created_by=None,
                        title=STUDY_TITLE,
                        description=(
                            "The whole protocol: two questions, each with an opinion and a "
                            "critique iteration, rankings, position ratings and a short survey. "
                            "Groups alternate between two conditions; bots fill the empty seats."
                        ),
                        questions=questions[1:3],
                        group_size=4,
                        min_group_size=3,
                        n_candidates=8,
                        critique_iterations=1,
                        fill_with_bots=True,
                        conditions=[
                            {"name": "mediator-only", "description": "The winner alone."},
                            {
                                "name": "with-best-opinion",
                                "description": "The winner beside the group's best opinion.",
                                "comparisons": ["best_opinion"],
                            },
                        ],
                    )
                german = Deliberation.objects.filter(title=GERMAN_TITLE).first()
                if german is None:
                    german = deliberation_create(
                        created_by=None,
                        title=GERMAN_TITLE,
                        description="Zum Ausprobieren auf Deutsch; Bots füllen die leeren Plätze.",
                        questions=[self._question(GERMAN_QUESTION, source="demo-de")],
                        group_size=5,
                        min_group_size=3,
                        n_candidates=16,
                        fill_with_bots=True,
                        language="de",
                    )
        except DomainError as exc:
            raise CommandError(exc.message) from None

        if password == DEMO_PASSWORD:
            self.stderr.write(
                self.style.WARNING(
                    f"WARNING: the demo moderator uses the fixed, published password "
                    f"{DEMO_PASSWORD!r}. That is only acceptable for this local demo on "
                    f"127.0.0.1. Set DEMO_MODERATOR_PASSWORD, or use create_moderator, for "
                    f"anything reachable by others."
                )
            )
        state = "Created" if created else "Found"
        self.stdout.write(f"{state} the demo deliberation {DEMO_TITLE!r}.")
        self.stdout.write(f"Participant join link: {base_url}{join_path(deliberation)}")
        self.stdout.write(f"Whole-protocol study:  {base_url}{join_path(study)}")
        self.stdout.write(f"German demo (Deutsch): {base_url}{join_path(german)}")
        self.stdout.write(f"Moderator login:       {base_url}/accounts/login/")
        self.stdout.write(f"  username: {DEMO_USERNAME}")
        self.stdout.write(f"  password: {password}")
        self.stdout.write(
            "What the embedded mediator (no language model) writes, generated just now for "
            "three example groups on the first demo question:"
        )
        for kind, text in example_statements().items():
            self.stdout.write(f"  {kind}: {text}")

    def _question(self, spec: dict, source: str = "demo") -> Question:
        existing = Question.objects.filter(external_id=spec["external_id"]).first()
        if existing is not None:
            return existing
        return question_create(source=source, **spec)
