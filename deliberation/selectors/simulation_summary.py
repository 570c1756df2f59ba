"""A pilot study's outcome for people: each group's rounds and iterations with the winner and
how much the members agreed with it, and per condition the mean agreement with the winners. Read
from the reports of `selectors.simulation.group_report`; `manage.py simulate` prints it."""

import statistics
from collections import defaultdict

from deliberation.models import Deliberation, Iteration, Participant, Question


def group_problem(report: dict, *, rounds: int, iterations: int) -> str | None:
    """Why a group (its `group_report`) did not run the whole study of `rounds` rounds of
    `iterations` iterations, or None when it did."""
    label = f"group {report['number']}"
    for iteration in (it for round_ in report["rounds"] for it in round_["iterations"]):
        if iteration["state"] == Iteration.State.FAILED:
            return f"{label} failed: {iteration['failure_reason']}"
        if iteration["state"] != Iteration.State.DONE:
            return f"{label} stopped in state {iteration['state']}"
    counts = [len(round_["iterations"]) for round_ in report["rounds"]]
    if counts != [iterations] * rounds:
        return f"{label} ran {len(counts)} of {rounds} round(s), with {counts} iteration(s)"
    owing = Participant.objects.filter(
        group_id=report["id"], status=Participant.Status.ACTIVE
    ).count()
    if owing:
        return f"{label} has {owing} member(s) who still owe answers"
    return None


def study_summary(
    deliberation: Deliberation, questions: list[Question], reports: list[dict]
) -> str:
    """Lines for people: each round and iteration of each group with its winner and how much the
    members agreed with it (and with any comparison shown); per condition, the mean agreement
    with the winners and, in exclusion groups, that of included and excluded members apart."""
    lines = [
        f"{deliberation.title}: {len(reports)} group(s) of {deliberation.group_size}, "
        f"{len(questions)} round(s) of {deliberation.iterations_per_round} iteration(s), "
        f"deliberation {deliberation.public_id}",
    ]
    lines += [f"Round {n}: {q.text}" for n, q in enumerate(questions, start=1)]
    by_condition: dict[str, list[int]] = defaultdict(list)
    included: dict[str, list[int]] = defaultdict(list)
    excluded: dict[str, list[int]] = defaultdict(list)
    everyone: list[int] = []
    for report in reports:
        condition = report["condition"]
        heading = f"Group {report['number']}" + (f" ({condition})" if condition else "")
        lines.append(heading)
        for round_ in report["rounds"]:
            where = f"Group {report['number']}, round {round_['position'] + 1}"
            left_out = set(round_["excluded"])
            if left_out:
                lines.append(f"{where}: left out of the mediation: {_short_ids(left_out)}")
            for iteration in round_["iterations"]:
                label = f"{where}, iteration {iteration['index']}"
                written = iteration["critiques"] if iteration["index"] else iteration["opinions"]
                what = "critique(s)" if iteration["index"] else "opinion(s)"
                if iteration["winner"] is None:
                    lines.append(
                        f"{label}: {len(written)} {what}, no winner ({iteration['state']})"
                    )
                    continue
                winner, *comparisons = iteration["shown"] or [None]
                ratings = winner["ratings"] if winner else []
                agreement = [r["agreement"] for r in ratings]
                everyone += agreement
                by_condition[condition or "(none)"] += agreement
                if left_out:
                    for rating in ratings:
                        side = excluded if rating["participant"] in left_out else included
                        side[condition].append(rating["agreement"])
                text = iteration["candidates"][iteration["winner"]]["text"]
                lines.append(
                    f"{label}: {len(written)} {what}, winner {iteration['winner']} of "
                    f"{len(iteration['candidates'])}, mean agreement {_mean(agreement)} "
                    f"from {len(agreement)} rating(s)\n    {_shorten(text)}"
                )
                for shown in comparisons:
                    values = [r["agreement"] for r in shown["ratings"]]
                    lines.append(
                        f"    beside it, {shown['role']}: mean agreement {_mean(values)} "
                        f"from {len(values)} rating(s)"
                    )
    if any(report["condition"] for report in reports):
        lines.append("Mean agreement with the winners, by condition (1-7):")
        for condition, values in sorted(by_condition.items()):
            line = f"  {condition}: {_mean(values)} from {len(values)} rating(s)"
            if condition in included or condition in excluded:
                line += (
                    f"; included members {_mean(included[condition])} "
                    f"({len(included[condition])}), excluded members "
                    f"{_mean(excluded[condition])} ({len(excluded[condition])})"
                )
            lines.append(line)
    if everyone:
        lines.append(f"Mean agreement overall: {statistics.fmean(everyone):.2f} (1-7)")
    return "\n".join(lines)


def _mean(values: list[int]) -> str:
    return f"{statistics.fmean(values):.2f}" if values else "n/a"


def _short_ids(public_ids) -> str:
    return ", ".join(sorted(public_id[:8] for public_id in public_ids))


def _shorten(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
