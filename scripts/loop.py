"""`make loop`: the data loop of METHOD.md §4 on this machine, in one line.

    simulate (bots, questions from the bank with its splits)
      -> export (tidy, with bots)
      -> train_reward_model --kind head (split by question)
      -> evaluate on held-out questions (prior, serving, trained; printed)
      -> promote_model (the gate)
      -> simulate again: the new groups are mediated with the promoted model

Runs against its own SQLite database (var/loop/loop.sqlite3, made afresh) unless DATABASE_URL is
set, with the embedded backends (extractive generator, embedding reward model) and 4 candidates
per mediation. Writes the export and the model under var/loop/. Exits 1 when the trained model
does not beat the prior on held-out questions, the gate refuses it, or the next mediations are
not scored by it. Options: --groups G --size K --rounds R --seed S --conditions NAMES.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
LOOP_DIR = ROOT / "var" / "loop"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=3)
    parser.add_argument("--size", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument(
        "--conditions",
        default="best_opinion,baseline",
        help="simulate's conditions: statements shown beside the winner give more ratings and "
        "rankings to learn from (default best_opinion,baseline).",
    )
    args = parser.parse_args()

    if LOOP_DIR.exists():
        shutil.rmtree(LOOP_DIR)
    LOOP_DIR.mkdir(parents=True)
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{LOOP_DIR / 'loop.sqlite3'}")
    os.environ.setdefault("GENERATOR_BACKEND", "extractive")
    os.environ.setdefault("REWARD_BACKEND", "embedding")
    os.environ.setdefault("MEDIATION_CANDIDATES", "4")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from deliberation.models import CandidateSet
    from inference.training.evaluate import comparison_table

    def run(*command) -> dict:
        out = io.StringIO()
        call_command(*command, "--json", stdout=out)
        return json.loads(out.getvalue())

    def step(text: str) -> None:
        print(f"\n== {text}", file=sys.stderr, flush=True)

    started = time.monotonic()
    call_command("migrate", verbosity=0)
    source = "bank" if Path(settings.QUESTION_BANK_PATH).exists() else "built-in"
    step(f"simulate: {args.groups} groups of {args.size} bots, {args.rounds} questions ({source})")
    study = run("simulate", "--groups", str(args.groups), "--size", str(args.size),
                "--rounds", str(args.rounds), "--question-source", source,
                "--seed", str(args.seed), "--conditions", args.conditions)  # fmt: skip
    step("export (tidy, with bots)")
    export = LOOP_DIR / "export"
    call_command("export", "--schema", "tidy", "--format", "parquet", "--out", str(export),
                 "--include-bots", "--deliberation", study["deliberation"],
                 stdout=io.StringIO())  # fmt: skip
    step("train the embedding head and evaluate on held-out questions")
    trained = run("train_reward_model", "--kind", "head", "--out", str(LOOP_DIR / "head"),
                  "--export", str(export), "--include-bots", "--seed", str(args.seed))  # fmt: skip
    heldout = trained["heldout"]
    metrics = json.loads((Path(trained["dir"]) / "metrics.json").read_text())
    print(comparison_table(metrics["heldout"]))
    print(f"ratings: {trained['examples']}; ranked pairs: {metrics['pairs']}")
    if not heldout["trained"]["mae"] < heldout["prior"]["mae"]:
        print("The trained head does not beat the prior on held-out questions.", file=sys.stderr)
        return 1
    step(f"promote model version {trained['model_version']}")
    promoted = run("promote_model", str(trained["model_version"]))
    print(f"promoted: {promoted['reason']}")
    step("simulate again with the promoted model")
    before = set(CandidateSet.objects.values_list("pk", flat=True))
    run("simulate", "--groups", "1", "--size", str(args.size), "--question-source", source,
        "--seed", str(args.seed + 1), "--conditions", args.conditions)  # fmt: skip
    scored_by = set(
        CandidateSet.objects.exclude(pk__in=before).values_list("reward_model_id", flat=True)
    )
    print(f"next mediations scored by model version(s): {sorted(scored_by)}")
    if scored_by != {trained["model_version"]}:
        print("The next mediations were not scored by the promoted model.", file=sys.stderr)
        return 1
    print(f"loop done in {time.monotonic() - started:.0f} s; model in {trained['dir']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
