"""Bot participants (provenance `bot_citizen`) for demos, pilots and `manage.py simulate`.

Bots act through the same services as people. Their opinions are built from the question's
position statements and sentence templates, varied by a seed; their ratings follow how much of
their own opinion's wording a statement shares, plus noise. They are not a model of people.
They write in their deliberation's language (English, or German from `PHRASEBOOKS`), as its
people do; what they write is data, not a translated page.

Planted effects (`bot_behaviour_set`, `simulate --bot-bias ROLE=DELTA --exclusion-penalty D`)
give a study a known truth for testing the analysis: bots rate statements of a role DELTA points
higher (or lower) on average, and bots left out of a round's mediation rate its winners D points
lower. The shift moves the centre of the same word-sharing rule before rounding and clipping.
"""

import math
import random
import re
from typing import NamedTuple

from django.db import transaction

from deliberation.errors import DomainError
from deliberation.models import Deliberation, Group, Participant, Statement
from deliberation.selectors.participant import ANSWER_STEPS, participant_step
from deliberation.services import responses
from deliberation.services.ratings import rating_submit
from deliberation.services.texts import critique_submit, opinion_submit

REASONS = [
    "The people most affected by this should have the biggest say in it.",
    "Cost matters here, and we should be honest about who ends up paying.",
    "I have seen something like this work locally, but only with clear rules.",
    "We should look carefully at the evidence before making a big change.",
    "Any decision should protect those who are most vulnerable.",
    "I worry about unintended consequences that would be hard to reverse.",
    "Phasing it in gradually would give everyone time to adjust.",
    "Personal freedom is important, but it is not the only thing that matters.",
    "Trust in public institutions depends on getting this kind of question right.",
    "Young people and future generations will live with the result longest.",
    "Local communities differ, so one rule for everyone may not fit.",
    "Fairness should come first, even if it makes things slower.",
    "Most people I know would welcome a clear decision either way.",
    "The benefits are real, but they are spread unevenly.",
    "We should listen to the experts, but the choice is a political one.",
    "Small pilots and honest evaluation beat grand promises.",
    "Whatever we decide has to be affordable for ordinary families.",
    "Rules only work if people understand and accept them.",
    "The current situation is not working well for many people.",
    "Change always has costs, and someone has to carry them.",
    "We owe it to each other to weigh the long-term effects.",
    "My own experience makes me cautious about sweeping rules.",
    "People's circumstances vary too much for a simple answer.",
    "It is a question of values as much as of facts.",
]
OPENERS = [
    "I believe that {s}.",
    "In my view, {s}.",
    "I am fairly sure that {s}.",
    "Overall I think {s}.",
    "To me it seems clear that {s}.",
]
STANCES_YES = [
    "I lean towards yes on this.",
    "My answer is yes, with conditions.",
    "On the whole, yes.",
]
STANCES_NO = [
    "I lean towards no on this.",
    "My answer is no, at least for now.",
    "On the whole, no.",
]
CLOSERS = [
    "That said, I can see why others feel differently.",
    "I would be open to a compromise if the details were right.",
    "On balance, that is where I stand.",
    "This is a hard question and I hold my view with some doubt.",
]
CRITIQUES = [
    'The statement says "{quote}", but it leaves out my main concern: {reason}',
    'I mostly agree, though "{quote}" goes further than I would. {reason}',
    "It is a fair summary, but it should say more clearly that {stance}.",
    'I would drop "{quote}"; it does not reflect the discussion. {reason}',
]


class Phrasebook(NamedTuple):
    """What bots write in one language. `openers` take a position statement as a clause `{s}`;
    `yes` finds a yes in an opinion (lower-cased); `nothing_to_add` answers a required free-text
    survey item."""

    reasons: list[str]
    openers: list[str]
    stances_yes: list[str]
    stances_no: list[str]
    closers: list[str]
    critiques: list[str]
    yes: re.Pattern
    nothing_to_add: str


PHRASEBOOKS = {
    "en": Phrasebook(
        REASONS,
        OPENERS,
        STANCES_YES,
        STANCES_NO,
        CLOSERS,
        CRITIQUES,
        re.compile("yes"),
        "I have nothing to add.",
    ),
    "de": Phrasebook(
        reasons=[
            "Wer am stärksten betroffen ist, sollte am meisten mitreden dürfen.",
            "Die Kosten spielen eine Rolle, und wir sollten ehrlich sagen, wer sie am Ende trägt.",
            "Ich habe so etwas vor Ort funktionieren sehen, aber nur mit klaren Regeln.",
            "Wir sollten uns die Belege genau ansehen, bevor wir etwas Großes ändern.",
            "Jede Entscheidung sollte die Schwächsten schützen.",
            "Ich fürchte unbeabsichtigte Folgen, die schwer rückgängig zu machen wären.",
            "Eine schrittweise Einführung würde allen Zeit geben, sich anzupassen.",
            "Persönliche Freiheit ist wichtig, aber sie ist nicht das Einzige, was zählt.",
            "Das Vertrauen in öffentliche Einrichtungen hängt davon ab, solche Fragen gut zu lösen.",
            "Junge Menschen und künftige Generationen leben am längsten mit dem Ergebnis.",
            "Die Gemeinden sind verschieden, deshalb passt eine Regel für alle vielleicht nicht.",
            "Gerechtigkeit sollte an erster Stelle stehen, auch wenn es dann langsamer geht.",
            "Die meisten, die ich kenne, würden eine klare Entscheidung so oder so begrüßen.",
            "Der Nutzen ist echt, aber er ist ungleich verteilt.",
            "Wir sollten auf die Fachleute hören, aber die Entscheidung ist eine politische.",
            "Kleine Versuche und eine ehrliche Auswertung sind besser als große Versprechen.",
            "Was auch immer wir entscheiden, es muss für normale Familien bezahlbar sein.",
            "Regeln funktionieren nur, wenn die Menschen sie verstehen und annehmen.",
            "Die jetzige Lage funktioniert für viele Menschen nicht gut.",
            "Veränderungen kosten immer etwas, und irgendwer muss das tragen.",
            "Wir sind es einander schuldig, die langfristigen Folgen abzuwägen.",
            "Meine eigenen Erfahrungen machen mich vorsichtig bei pauschalen Regeln.",
            "Die Lebensumstände sind zu verschieden für eine einfache Antwort.",
            "Es ist ebenso eine Frage der Werte wie der Fakten.",
        ],
        # German puts the verb last after "dass": the position statement stays a main clause.
        openers=[
            "{s} – davon bin ich überzeugt.",
            "{s}, das ist meine Meinung.",
            "{s}, da bin ich mir ziemlich sicher.",
            "{s}, so sehe ich das alles in allem.",
            "{s}, das scheint mir klar.",
        ],
        stances_yes=[
            "Ich neige hier zu Ja.",
            "Meine Antwort ist ja, mit Bedingungen.",
            "Alles in allem: ja.",
        ],
        stances_no=[
            "Ich neige hier zu Nein.",
            "Meine Antwort ist nein, zumindest vorerst.",
            "Alles in allem: nein.",
        ],
        closers=[
            "Trotzdem verstehe ich, warum andere das anders sehen.",
            "Wenn die Einzelheiten stimmen, wäre ich für einen Kompromiss offen.",
            "Unterm Strich ist das meine Haltung.",
            "Das ist eine schwierige Frage, und ich bin mir meiner Sicht nicht ganz sicher.",
        ],
        critiques=[
            "Die Stellungnahme sagt „{quote}“, lässt aber mein Hauptanliegen weg: {reason}",
            "Ich stimme größtenteils zu, aber „{quote}“ geht mir zu weit. {reason}",
            "Eine faire Zusammenfassung, aber meine Haltung kommt zu kurz: {stance}.",
            "Ich würde „{quote}“ streichen; das gibt die Diskussion nicht wieder. {reason}",
        ],
        yes=re.compile(r"\bja\b"),
        nothing_to_add="Ich habe nichts hinzuzufügen.",
    ),
}

_WORD = re.compile(r"[a-zäöüß']+")


def _phrases(language: str) -> Phrasebook:
    return PHRASEBOOKS.get(language, PHRASEBOOKS["en"])


def _clause(statement: str, language: str = "en") -> str:
    """A position statement to go inside an opener: English lower-cases its first word (German
    keeps its capitals: nouns)."""
    statement = statement.strip().rstrip(".!?").strip()
    if language != "en":
        return statement
    statement = re.sub(r"\bNOT\b", "not", statement)
    if statement[:1].isupper() and not statement[:2].isupper():
        statement = statement[0].lower() + statement[1:]
    return statement


def bot_opinion(question, rng: random.Random, language: str = "en") -> str:
    """A short opinion of 3-5 sentences for a position drawn at random, in `language`."""
    phrases = _phrases(language)
    lean = rng.random()
    if not (question.affirming_statement and question.negating_statement):
        opener = rng.choice(phrases.stances_yes if lean < 0.5 else phrases.stances_no)
    else:
        side = question.affirming_statement if lean < 0.5 else question.negating_statement
        opener = rng.choice(phrases.openers).format(s=_clause(side, language))
    sentences = [opener, *rng.sample(phrases.reasons, k=rng.randint(2, 4))]
    if rng.random() < 0.6:
        sentences.append(rng.choice(phrases.closers))
    return " ".join(sentences)


def bot_critique(opinion: str, winner: str, rng: random.Random, language: str = "en") -> str:
    """A critique that reacts to the winner the bot saw: quotes the part least like its view."""
    phrases = _phrases(language)
    parts = [s.strip() for s in re.split(r"(?<=[.!?])\s+", winner) if s.strip()]
    own = set(_WORD.findall(opinion.lower()))
    quote = min(parts, key=lambda s: len(own & set(_WORD.findall(s.lower())))) if parts else winner
    quote = quote.rstrip(".!?")[:160]
    stance = _clause(re.split(r"(?<=[.!?])\s+", opinion)[0], language)
    reason = rng.choice(phrases.reasons)
    return rng.choice(phrases.critiques).format(quote=quote, reason=reason, stance=stance)


BIAS_MAX = 6.0


@transaction.atomic
def bot_behaviour_set(
    *, deliberation: Deliberation, bias: dict[str, float], exclusion_penalty: float = 0.0
) -> Deliberation:
    """Plant effects in the bots of `deliberation`: `bias` maps a statement role (candidate,
    best_opinion, baseline) to the points added to bots' agreement with statements of that role
    (negative: lower); bots left out of a round's mediation rate its winners
    `exclusion_penalty` points lower. Each from -6 to 6; DomainError otherwise."""
    unknown = sorted(set(bias) - set(Statement.Role.values))
    if unknown:
        raise DomainError(
            f"Unknown statement role(s) for a bias: {', '.join(unknown)}; the roles are "
            f"{', '.join(Statement.Role.values)}.",
            code="bad_bot_bias",
        )
    for name, value in [*bias.items(), ("exclusion penalty", exclusion_penalty)]:
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            raise DomainError(f"The {name} must be a number.", code="bad_bot_bias")
        if abs(value) > BIAS_MAX:
            raise DomainError(
                f"The {name} must be from -{BIAS_MAX:g} to {BIAS_MAX:g} points.",
                code="bad_bot_bias",
            )
    deliberation.bot_behaviour = {
        "bias": {role: float(value) for role, value in bias.items()},
        "exclusion_penalty": float(exclusion_penalty),
    }
    deliberation.save(update_fields=["bot_behaviour"])
    return deliberation


def bot_shift(behaviour: dict, statement: Statement, *, excluded: bool) -> float:
    """Points a planted effect adds to a bot's agreement with `statement` (0 without one)."""
    shift = float((behaviour.get("bias") or {}).get(statement.role, 0.0))
    if excluded and statement.is_winner:
        shift -= float(behaviour.get("exclusion_penalty") or 0.0)
    return shift


def bot_rating(
    opinion: str, statement: str, rng: random.Random, shift: float = 0.0
) -> tuple[int, int]:
    """(agreement, quality): agreement rises with the share of the bot's words the statement
    uses; `shift` (a planted effect) moves its centre."""
    own = set(_WORD.findall(opinion.lower()))
    theirs = set(_WORD.findall(statement.lower()))
    overlap = len(own & theirs) / max(1, len(own))
    agreement = round(2 + 5 * overlap + shift + rng.gauss(0, 0.8))
    quality = round(4.5 + rng.gauss(0, 1))
    return min(7, max(1, agreement)), min(7, max(1, quality))


def bot_places(
    opinion: str, statements, rng: random.Random, shift=lambda statement: 0.0
) -> dict[int, int]:
    """A ranking (statement id -> place, 1 = best) by the bot's agreement (with `shift(statement)`
    added), ties broken by noise."""
    scored = sorted(
        statements,
        key=lambda s: -(bot_rating(opinion, s.text, rng, shift(s))[0] + rng.random() / 10),
    )
    return {statement.pk: place for place, statement in enumerate(scored, start=1)}


def bot_position(opinion: str, question, rng: random.Random, language: str = "en") -> int:
    """Agreement with the position statement: from the side the bot's opinion took, plus noise."""
    affirming = _clause(question.affirming_statement or "", language)
    leans_yes = (bool(affirming) and affirming in opinion) or bool(
        _phrases(language).yes.search(opinion.lower())
    )
    centre = 5.5 if leans_yes else 2.5
    return min(7, max(1, round(centre + rng.gauss(0, 1))))


def bot_step(bot: Participant) -> bool:
    """Do what the bot's current step asks, through the same services as people; False when the
    bot has to wait for its group."""
    step = participant_step(bot)
    if step.kind not in ANSWER_STEPS:
        return False
    round_ = step.round
    key = f"{bot.pk}-{step.key}"
    rng = random.Random(key)
    opinion = bot.opinions.filter(iteration__round=round_, iteration__index=0).first()
    own = opinion.text if opinion else ""
    behaviour = round_.group.deliberation.bot_behaviour or {}
    language = round_.group.deliberation.language
    excluded = bool(behaviour) and round_.excluded.filter(pk=bot.pk).exists()

    def shift(statement: Statement) -> float:
        return bot_shift(behaviour, statement, excluded=excluded)

    if step.kind == "position_before":
        stance = bot_opinion(
            round_.question, random.Random(f"{bot.pk}-{step.iteration.pk}"), language
        )
        agreement = bot_position(stance, round_.question, rng, language)
        responses.position_rating_submit(
            participant=bot, round_=round_, index=0, agreement=agreement
        )
    elif step.kind == "write_opinion":
        opinion_submit(
            participant=bot,
            iteration=step.iteration,
            text=bot_opinion(
                round_.question, random.Random(f"{bot.pk}-{step.iteration.pk}"), language
            ),
            response_duration_ms=rng.randint(30_000, 240_000),
        )
    elif step.kind == "write_critique":
        critique_submit(
            participant=bot,
            iteration=step.iteration,
            text=bot_critique(own, step.statement.text, rng, language),
            response_duration_ms=rng.randint(20_000, 180_000),
        )
    elif step.kind == "rate":
        agreement, quality = bot_rating(own, step.statement.text, rng, shift(step.statement))
        rating_submit(
            participant=bot,
            statement=step.statement,
            agreement=agreement,
            quality=quality,
            response_duration_ms=rng.randint(5_000, 60_000),
        )
    elif step.kind == "rank":
        responses.ranking_submit(
            participant=bot,
            iteration=step.iteration,
            places=bot_places(own, step.statements, rng, shift),
        )
    elif step.kind == "final_ranking":
        responses.final_ranking_submit(
            participant=bot, round_=round_, places=bot_places(own, step.statements, rng, shift)
        )
    elif step.kind == "position_after":
        responses.position_rating_submit(
            participant=bot,
            round_=round_,
            index=1,
            agreement=bot_position(own, round_.question, rng, language),
        )
    elif step.kind == "survey":
        items = round_.group.deliberation.survey_items
        responses.survey_submit(
            participant=bot,
            round_=round_,
            answers={
                item["key"]: (
                    rng.randint(2, 7)
                    if item["kind"] == "likert"
                    else (_phrases(language).nothing_to_add if item.get("required") else "")
                )
                for item in items
            },
        )
    return True


def bots_act(*, group: Group) -> int:
    """Let every active bot of the group do all it can now. Returns the number of actions taken.

    Bots walk the same step machine as people (`participant_step`), so they answer every part of
    the protocol a person does, in the same order.
    """
    bots = list(group.members.filter(provenance="bot_citizen", status=Participant.Status.ACTIVE))
    actions = 0
    for bot in bots:
        for _ in range(100):  # a bound, far above the steps of one phase
            if not bot_step(bot):
                break
            actions += 1
    return actions
