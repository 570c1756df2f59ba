"""Command line: run one mediation from a JSON file, or benchmark the inference layer.

    python -m inference mediate --input round.json [--config config.json]
    python -m inference bench [--json] [--runs N]
    python -m inference evaluate-embedded [--set FILE] [--json]

`mediate` reads `{"question", "opinions": [str], "previous_winner"?, "critiques"?: [str],
"include"?: [int], "affirming_statement"?, "negating_statement"?, "position_ratings"?:
[number | null]}` (`-` reads standard input), runs `inference.mediation.mediate` with the
backends of the config (`MediationConfig.from_dict` format; by default the embedded ones) and
prints one JSON object. Any error it can foresee (bad input, bad config, unknown or missing
backend, a model server that does not answer) is one line on stderr and exit status 1.

`evaluate-embedded` runs the embedded backends over the project's evaluation set and prints
the figures of `inference.evaluation.embedded` against their targets (exit status 1 when one is
missed).

`bench` times mediation with the embedded backends, Schulze and welfare beside their plain-loop
references, and compares them with the targets of DESIGN.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from inference.base import InferenceError, RoundText
from inference.config import MediationConfig, build_generator, build_reward_model

# A round file holds the fields of a `RoundText`, and `include` (which members to write from).
ROUND_KEYS = {field.name for field in dataclasses.fields(RoundText)} | {"include"}

# DESIGN.md, "Non-functional targets".
TARGET_MEDIATION_S = 1.0
TARGET_SCHULZE_SPEEDUP = 50.0
TARGET_WELFARE_S = 0.05
BENCH_WELFARE_ALPHA = 2.0  # the general isoelastic path, the slowest one


class InputError(ValueError):
    """The round file is unusable."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m inference", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--traceback", action="store_true", help="show the full traceback of an error"
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log the backends' warnings and progress"
    )
    commands = parser.add_subparsers(dest="command", required=True)

    mediate_parser = commands.add_parser("mediate", help="run one mediation from a JSON file")
    mediate_parser.add_argument("--input", required=True, help="round JSON file, - for stdin")
    mediate_parser.add_argument("--config", help="mediation config JSON (default: embedded)")
    mediate_parser.set_defaults(handler=_mediate_command)

    bench_parser = commands.add_parser("bench", help="time mediation and aggregation")
    bench_parser.add_argument(
        "--json", action="store_true", help="end the output with one JSON line"
    )
    bench_parser.add_argument(
        "--runs", type=int, default=7, help="timed mediation runs after the warm-up (default 7)"
    )
    bench_parser.add_argument(
        "--questions",
        type=Path,
        help="a question bank JSON file to draw the rounds' questions from (default: built-in)",
    )
    bench_parser.set_defaults(handler=_bench_command)

    evaluate_parser = commands.add_parser(
        "evaluate-embedded",
        help="measure the embedded mediator on the project's evaluation set",
    )
    evaluate_parser.add_argument("--set", help="evaluation set JSON (default: the bundled one)")
    evaluate_parser.add_argument(
        "--json", action="store_true", help="end the output with one JSON line"
    )
    evaluate_parser.set_defaults(handler=_evaluate_command)

    args = parser.parse_args(argv)
    # Quiet by default: an error is reported once, on one line, below.
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.CRITICAL,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return args.handler(args)
    except Exception as exc:
        if args.traceback:
            raise
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return 1


def _one_line(exc: BaseException) -> str:
    message = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, InferenceError) or not isinstance(exc, (ValueError, OSError)):
        return f"{type(exc).__name__}: {message}"
    return message


# --------------------------------------------------------------------------------------------
# mediate


def _mediate_command(args: argparse.Namespace) -> int:
    from inference.mediation import mediate_with_config

    round_text, include = _read_round(args.input)
    config = (
        MediationConfig.from_dict(_read_json(args.config, "config"))
        if args.config
        else MediationConfig()
    )
    generator = _build(build_generator, config.generator, "generator")
    reward_model = _build(build_reward_model, config.reward, "reward")
    result = mediate_with_config(
        round_text,
        config=config,
        generator=generator,
        reward_model=reward_model,
        include=include,
    )
    data = result.to_dict()
    data["config"] = config.to_dict()
    print(json.dumps(data, ensure_ascii=False, allow_nan=False))
    return 0


def _build(builder: Callable[[Any], Any], backend_config: Any, role: str) -> Any:
    try:
        return builder(backend_config)
    except ImportError as exc:
        raise InputError(
            f"the {role} backend {backend_config.backend!r} cannot be loaded: {exc}"
        ) from exc


def _read_json(path: str, what: str) -> Any:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise InputError(f"cannot read the {what} file {path}: {reason}") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"the {what} file {path} is not valid JSON: {exc}") from exc


def _read_round(path: str) -> tuple[RoundText, list[int] | None]:
    """The round file's text, checked (`RoundText`), and its `include`."""
    data = _read_json(path, "input")
    if not isinstance(data, dict):
        raise InputError("the input must be a JSON object with 'question' and 'opinions'")
    unknown = set(data) - ROUND_KEYS
    if unknown:
        raise InputError(f"unknown input keys: {', '.join(sorted(unknown))}")
    missing = {"question", "opinions"} - set(data)
    if missing:
        raise InputError(f"the input needs {' and '.join(repr(k) for k in sorted(missing))}")
    include = data.pop("include", None)
    if include is not None and not (
        isinstance(include, list)
        and all(isinstance(i, int) and not isinstance(i, bool) for i in include)
    ):
        raise InputError("'include' must be a list of member indices")
    try:
        return RoundText(**data), include
    except ValueError as exc:
        raise InputError(f"the input is not a usable round: {exc}") from exc


# --------------------------------------------------------------------------------------------
# bench

BUILT_IN_QUESTIONS = [
    {
        "question": "Should public transport be free for everyone?",
        "affirming_statement": "Public transport should be free for everyone.",
        "negating_statement": "Public transport should NOT be free for everyone.",
    },
    {
        "question": "Should the school day start later for teenagers?",
        "affirming_statement": "The school day should start later for teenagers.",
        "negating_statement": "The school day should NOT start later for teenagers.",
    },
    {
        "question": "Should cities ban cars from their centres?",
        "affirming_statement": "Cities should ban cars from their centres.",
        "negating_statement": "Cities should NOT ban cars from their centres.",
    },
]
REASONS_FOR = [
    "It would help the people who are struggling most right now.",
    "Other countries that tried it saw clear benefits within a few years.",
    "In the long run it would save money as well as trouble.",
]
REASONS_AGAINST = [
    "The cost would fall on people who gain nothing from it.",
    "There are cheaper ways to reach the same goal without the side effects.",
    "Changes this large tend to have consequences nobody planned for.",
]
HEDGES = [
    "I can see why others feel differently, though.",
    "A lot depends on how it is done in practice.",
    "We should try it on a small scale first and look at the results.",
]


def bench_rounds(count: int, questions: Path | None = None) -> tuple[list[RoundText], str]:
    """`count` rounds of 5 synthetic opinions, on questions drawn from the bank file `questions`
    when it can be read, else on built-in ones."""
    path = questions
    try:
        if path is None:
            raise OSError("no question bank given")
        bank = json.loads(path.read_text(encoding="utf-8"))
        rng = np.random.default_rng(0)
        questions = [bank[int(i)] for i in rng.choice(len(bank), size=count, replace=False)]
        source = str(path)
    except (OSError, ValueError, TypeError, KeyError):
        questions = [BUILT_IN_QUESTIONS[i % len(BUILT_IN_QUESTIONS)] for i in range(count)]
        source = "built-in questions" + (" (question bank not found)" if path else "")
    rounds = []
    for q, entry in enumerate(questions):
        opinions = []
        for member in range(5):
            stance = (
                entry["affirming_statement"] if member % 2 == 0 else entry["negating_statement"]
            )
            reasons = REASONS_FOR if member % 2 == 0 else REASONS_AGAINST
            opinions.append(
                " ".join(
                    [
                        stance.strip(),
                        reasons[(q + member) % 3],
                        reasons[(q + member + 1) % 3],
                        HEDGES[(q + member) % 3],
                    ]
                )
            )
        rounds.append(RoundText(question=entry["question"].strip(), opinions=opinions))
    return rounds, source


def _median_time(function: Callable[[], Any], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _bench_command(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from inference.aggregation import (
        rankings_from_predictions,
        schulze,
        schulze_loop,
        welfare,
        welfare_loop,
    )
    from inference.mediation import mediate_with_config

    runs = max(1, args.runs)
    report: dict[str, Any] = {"cpu_count": os.cpu_count()}
    progress = tqdm(total=6, desc="bench", file=sys.stderr, unit="step")

    # Mediation with the embedded backends.
    progress.set_postfix_str("embedded backends: loading")
    config = MediationConfig()
    rounds, source = bench_rounds(runs + 1, args.questions)
    report["questions_source"] = source
    try:
        started = time.perf_counter()
        generator = build_generator(config.generator)
        reward_model = build_reward_model(config.reward)
        mediate_with_config(
            rounds[0], config=config, generator=generator, reward_model=reward_model
        )
        report["mediation_setup_s"] = time.perf_counter() - started
        progress.update()
        progress.set_postfix_str(f"mediation x {runs}")
        times, stages = [], []
        for i, round_text in enumerate(rounds[1:]):
            started = time.perf_counter()
            result = mediate_with_config(
                round_text,
                config=config.with_seed(i),
                generator=generator,
                reward_model=reward_model,
            )
            times.append(time.perf_counter() - started)
            stages.append(result.timings)
        report["mediation_embedded_s"] = statistics.median(times)
        report["mediation_stages_s"] = {
            key: statistics.median(t[key] for t in stages) for key in stages[0]
        }
        report["mediation_backends"] = [result.generator, result.reward_model]
    except Exception as exc:  # any failure here must not stop the aggregation benchmarks
        report["mediation_embedded_s"] = None
        report["mediation_embedded_error"] = _one_line(exc)
        progress.update()
    progress.update()

    rng = np.random.default_rng(0)
    progress.set_postfix_str("Schulze 1,000 x 64")
    rankings = rankings_from_predictions(rng.uniform(1, 7, size=(1000, 64)).round(1))
    schulze(rankings, seed=0)
    report["schulze_1000x64_s"] = _median_time(lambda: schulze(rankings, seed=0), 20)
    progress.update()
    progress.set_postfix_str("Schulze loop")
    report["schulze_loop_1000x64_s"] = _median_time(lambda: schulze_loop(rankings, seed=0), 3)
    fast, slow = schulze(rankings, seed=0), schulze_loop(rankings, seed=0)
    report["schulze_agrees_with_loop"] = bool(
        np.array_equal(fast[0], slow[0]) and np.array_equal(fast[1], slow[1])
    )
    progress.update()

    progress.set_postfix_str("welfare 10,000 x 256")
    utilities = rng.uniform(1, 7, size=(10_000, 256))
    welfare(utilities, BENCH_WELFARE_ALPHA)
    report["welfare_alpha"] = BENCH_WELFARE_ALPHA
    report["welfare_10000x256_s"] = _median_time(
        lambda: welfare(utilities, BENCH_WELFARE_ALPHA), 10
    )
    progress.update()
    progress.set_postfix_str("welfare loop")
    report["welfare_loop_10000x256_s"] = _median_time(
        lambda: welfare_loop(utilities, BENCH_WELFARE_ALPHA), 1
    )
    report["welfare_agrees_with_loop"] = bool(
        np.allclose(
            welfare(utilities, BENCH_WELFARE_ALPHA),
            welfare_loop(utilities, BENCH_WELFARE_ALPHA),
            rtol=1e-9,
        )
    )
    progress.update()
    progress.close()

    report["schulze_speedup"] = report["schulze_loop_1000x64_s"] / report["schulze_1000x64_s"]
    report["welfare_speedup"] = report["welfare_loop_10000x256_s"] / report["welfare_10000x256_s"]
    mediation_s = report["mediation_embedded_s"]
    report["targets"] = {
        "mediation_embedded_s": f"< {TARGET_MEDIATION_S} s",
        "schulze_speedup": f">= {TARGET_SCHULZE_SPEEDUP:.0f}x the loop",
        "welfare_10000x256_s": f"< {TARGET_WELFARE_S * 1000:.0f} ms",
    }
    report["meets_targets"] = {
        "mediation_embedded_s": None if mediation_s is None else mediation_s < TARGET_MEDIATION_S,
        "schulze_speedup": report["schulze_speedup"] >= TARGET_SCHULZE_SPEEDUP,
        "welfare_10000x256_s": report["welfare_10000x256_s"] < TARGET_WELFARE_S,
    }
    print(_bench_table(report))
    if args.json:
        print(json.dumps(report, allow_nan=False))
    return 0


def _bench_table(report: dict[str, Any]) -> str:
    def seconds(value: float | None) -> str:
        if value is None:
            return "—"
        return f"{value * 1000:.1f} ms" if value < 1 else f"{value:.2f} s"

    def met(key: str) -> str:
        value = report["meets_targets"][key]
        return "n/a" if value is None else "yes" if value else "NO"

    rows = [
        ("what", "measured", "plain loop", "speed-up", "target", "met"),
        (
            "mediation, embedded, 5 x 16",
            seconds(report["mediation_embedded_s"]),
            "—",
            "—",
            report["targets"]["mediation_embedded_s"],
            met("mediation_embedded_s"),
        ),
        (
            "Schulze+TBRC, 1,000 x 64",
            seconds(report["schulze_1000x64_s"]),
            seconds(report["schulze_loop_1000x64_s"]),
            f"{report['schulze_speedup']:.0f}x",
            report["targets"]["schulze_speedup"],
            met("schulze_speedup"),
        ),
        (
            f"welfare (alpha={report['welfare_alpha']:g}), 10,000 x 256",
            seconds(report["welfare_10000x256_s"]),
            seconds(report["welfare_loop_10000x256_s"]),
            f"{report['welfare_speedup']:.0f}x",
            report["targets"]["welfare_10000x256_s"],
            met("welfare_10000x256_s"),
        ),
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    notes = [
        f"median of runs; {report['cpu_count']} CPUs; questions: {report['questions_source']}",
        "vectorised == loop: Schulze "
        f"{report['schulze_agrees_with_loop']}, welfare {report['welfare_agrees_with_loop']}",
    ]
    if "mediation_embedded_error" in report:
        notes.append(
            f"mediation with the embedded backends did not run: {report['mediation_embedded_error']}"
        )
    else:
        stages = ", ".join(
            f"{key[:-2]} {seconds(value)}" for key, value in report["mediation_stages_s"].items()
        )
        notes.append(
            f"mediation stages (median): {stages}; first run with loading "
            f"{seconds(report['mediation_setup_s'])}"
        )
    return "\n".join(lines + [""] + notes)


# --------------------------------------------------------------------------------------------
# evaluate-embedded


def _evaluate_command(args: argparse.Namespace) -> int:
    from inference.evaluation.embedded import SET_PATH, evaluate, load_set, report

    groups = load_set(args.set or SET_PATH)
    config = MediationConfig()
    generator = _build(build_generator, config.generator, "generator")
    reward_model = _build(build_reward_model, config.reward, "reward")
    result = evaluate(generator=generator, reward_model=reward_model, groups=groups)
    print(report(result))
    if args.json:
        print(json.dumps(result.to_dict(), allow_nan=False))
    return 0 if all(v is not False for v in result.met().values()) else 1
