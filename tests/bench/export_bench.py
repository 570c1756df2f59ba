"""Export benchmark (`make bench-export`): rows per second and peak memory of `export_write` at
100k and at 1M ratings, for each schema and format, beside DESIGN.md's target (peak memory at 1M
within 1.5x of the peak at 100k: memory flat in the number of rows).

1. A fresh PostgreSQL database (`cg_bench_export_<random>`), migrated, filled with COPY: ten
   deliberations of identical shape, each with a tenth of the ratings. Every group has 10 people
   and one round of one iteration whose mediation produced 6 candidates, 4 of them shown; each
   member wrote an opinion, rated the 4 statements shown, ranked them, and has a predicted
   rating for each (so a group holds 40 ratings).
2. Each export runs in its own subprocess (`--child`), so its peak resident memory
   (ru_maxrss, from wait4) is its own: "100k" exports one deliberation, "1M" all ten.
3. The database is dropped on the way out.

    python tests/bench/export_bench.py [--ratings 1000000] [--schemas hm,tidy]
                                       [--formats parquet,csv,jsonl] [--json]
"""

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psycopg

REPO_ROOT = Path(__file__).resolve().parents[2]
DELIBERATIONS = 10
MEMBERS = 10
CANDIDATES = 6
SHOWN = 4
RATINGS_PER_GROUP = MEMBERS * SHOWN
TARGET_RATIO = 1.5
WORDS = ("we should keep the parks open later in summer because families need the space and "
         "the evenings are long while noise must stay low for the neighbours").split()  # fmt: skip


def say(message: str) -> None:
    sys.stderr.write(f"[bench-export] {message}\n")
    sys.stderr.flush()


def _text(n: int, length: int = 18) -> str:
    return " ".join(WORDS[(n * 7 + i) % len(WORDS)] for i in range(length)).capitalize() + "."


# ---------------------------------------------------------------------------------------------
# Filling the database


class Ids:
    def __init__(self):
        self.next: dict[str, int] = {}

    def take(self, table: str) -> int:
        self.next[table] = self.next.get(table, 0) + 1
        return self.next[table]


# Neutral values for required columns a row does not name (the models gain fields over time).
NEUTRAL = {"jsonb": "{}", "boolean": False, "text": "", "character varying": "", "uuid": None}


def required(cur, table: str, named) -> dict:
    """Neutral values for the NOT NULL columns without a default that `named` leaves out."""
    cur.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = %s "
        "AND is_nullable = 'NO' AND column_default IS NULL",
        (table,),
    )
    return {c: NEUTRAL.get(kind, 0) for c, kind in cur.fetchall() if c not in set(named)}


def insert(cur, table: str, values: dict) -> None:
    """INSERT `values`, with a neutral value for every other required column."""
    row = {**values, **required(cur, table, values)}
    columns = ", ".join(f'"{c}"' for c in row)
    marks = ", ".join(["%s"] * len(row))
    cur.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks})", list(row.values()))


def fill(database_url: str, ratings: int) -> dict[str, int]:
    """COPY the study into the migrated database; returns the rows per table."""
    groups_per_deliberation = max(1, ratings // RATINGS_PER_GROUP // DELIBERATIONS)
    now = datetime.now(UTC)
    counts: dict[str, int] = {}
    with psycopg.connect(database_url) as conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO deliberation_question (id, text, affirming_statement, negating_statement,"
            " topic, split, source, created_at, external_id) VALUES (1, %s, %s, %s, 'parks', "
            "'train', 'bench', %s, 'BENCH1')",
            ("Should parks open later?", "Parks should open later.", "Parks should not.", now),
        )
        cur.execute(
            "INSERT INTO deliberation_modelversion (id, role, backend, name, revision, details, "
            "metrics, created_at) VALUES (1, 'generator', 'fake', 'gen', '1', '{}', '{}', %s), "
            "(2, 'reward', 'fake', 'reward', '1', '{}', '{}', %s)",
            (now, now),
        )
        for d in range(1, DELIBERATIONS + 1):
            insert(cur, "deliberation_deliberation", {
                "id": d, "public_id": uuid.uuid4(), "title": f"Bench {d}", "status": "open",
                "group_size": MEMBERS, "min_group_size": MEMBERS, "panel": "none",
                "consent_text": "consent", "consent_version": "1", "survey_items": "[]",
                "created_at": now, "updated_at": now,
            })  # fmt: skip
            cur.execute(
                "INSERT INTO deliberation_deliberationquestion (id, position, deliberation_id, "
                "question_id) VALUES (%s, 0, %s, 1)",
                (d, d),
            )
        ids = Ids()
        tables = {
            "group": "id, number, status, created_at, deliberation_id, ended_reason",
            "participant": "id, public_id, provenance, status, joined_at, deliberation_id, "
            "group_id, seat",
            "round": "id, position, status, group_id, question_id",
            "iteration": "id, index, state, failure_reason, mediation_attempts, created_at, "
            "updated_at, round_id",
            "candidateset": "id, config, aggregation, seed, member_ids, included_ids, "
            "predictions, scores, rankings, timings, created_at, iteration_id, generator_id, "
            "reward_model_id",
            "statement": "id, role, text, provenance, template_version, metadata, is_winner, "
            "shown, created_at, iteration_id, candidate_set_id, index, model_version_id, "
            "group_score, rank",
            "opinion": "id, text, created_at, hidden, hidden_reason, iteration_id, "
            "participant_id, response_duration_ms",
            "prediction": "id, value, participant_id, statement_id",
            "rating": "id, agreement, quality, created_at, iteration_id, participant_id, "
            "statement_id, response_duration_ms",
            "ranking": "id, kind, statement_ids, numerical_ranks, created_at, participant_id, "
            "round_id, iteration_id",
        }
        buffers: dict[str, list[tuple]] = {t: [] for t in tables}
        extra = {}
        for table, columns in tables.items():
            extra[table] = required(cur, f"deliberation_{table}", columns.split(", "))
            tables[table] = ", ".join([columns, *extra[table]])

        def flush(table: str) -> None:
            rows = buffers[table]
            if not rows:
                return
            with cur.copy(f"COPY deliberation_{table} ({tables[table]}) FROM STDIN") as copy:
                more = tuple(extra[table].values())
                for row in rows:
                    copy.write_row(row + more)
            counts[table] = counts.get(table, 0) + len(rows)
            rows.clear()

        def add(table: str, row: tuple) -> None:
            buffers[table].append(row)
            if len(buffers[table]) >= 50_000:
                flush(table)

        for d in range(1, DELIBERATIONS + 1):
            for number in range(1, groups_per_deliberation + 1):
                group = ids.take("group")
                add("group", (group, number, "done", now, d, ""))
                members = []
                for seat in range(MEMBERS):
                    member = ids.take("participant")
                    members.append(member)
                    add("participant", (member, uuid.uuid4(), "human_citizen", "completed", now,
                                        d, group, seat))  # fmt: skip
                round_ = ids.take("round")
                add("round", (round_, 0, "done", group, 1))
                iteration = ids.take("iteration")
                add("iteration", (iteration, 0, "done", "", 1, now, now, round_))
                candidate_set = ids.take("candidateset")
                predictions = [[4.0 + (m + c) % 3 / 2 for c in range(CANDIDATES)]
                               for m in range(MEMBERS)]  # fmt: skip
                add("candidateset", (candidate_set, "{}", "welfare", 1, json.dumps(members),
                                     json.dumps(members), json.dumps(predictions),
                                     json.dumps([4.0] * CANDIDATES), "{}", "{}", now, iteration,
                                     1, 2))  # fmt: skip
                statements = []
                for c in range(CANDIDATES):
                    statement = ids.take("statement")
                    statements.append(statement)
                    add("statement", (statement, "candidate", _text(statement, 24),
                                      "model_mediator", "bench-1", "{}", c == 0, c < SHOWN, now,
                                      iteration, candidate_set, c, 1, 4.0 - c / 10, c))  # fmt: skip
                shown = statements[:SHOWN]
                for m, member in enumerate(members):
                    add("opinion", (ids.take("opinion"), _text(member), now, False, "",
                                    iteration, member, 60_000))  # fmt: skip
                    for s, statement in enumerate(shown):
                        add("prediction", (ids.take("prediction"), predictions[m][s], member,
                                           statement))  # fmt: skip
                        add("rating", (ids.take("rating"), 1 + (m + s) % 7, 1 + (m * s) % 7,
                                       now, iteration, member, statement, 5_000 + s))  # fmt: skip
                    order = shown[m % SHOWN :] + shown[: m % SHOWN]
                    add("ranking", (ids.take("ranking"), "statements", json.dumps(order),
                                    json.dumps(list(range(SHOWN))), now, member, round_,
                                    iteration))  # fmt: skip
        for table in tables:
            flush(table)
        cur.execute("ANALYZE")
    return counts


# ---------------------------------------------------------------------------------------------
# One export per subprocess


def child(schema: str, fmt: str, deliberations: int, out: str) -> None:
    """Run in the subprocess: one export, timed; prints one JSON line."""
    import django

    sys.path.insert(0, str(REPO_ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    from deliberation.exports import export_write
    from deliberation.models import Deliberation

    chosen = list(Deliberation.objects.order_by("pk")[: int(deliberations)])
    started = time.perf_counter()
    result = export_write(schema=schema, fmt=fmt, out=Path(out), deliberations=chosen)
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "rows": sum(result.rows.values()),
                      "ratings": result.rows.get("ratings"), "bytes": result.bytes}))  # fmt: skip


def run_child(env: dict, schema: str, fmt: str, deliberations: int, out: Path) -> dict:
    args = [sys.executable, __file__, "--child", schema, fmt, str(deliberations), str(out)]
    process = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, cwd=REPO_ROOT, text=True)
    stdout = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"the {schema}/{fmt} export failed (exit {process.returncode})")
    figures = json.loads(stdout.strip().splitlines()[-1])
    figures["peak_mib"] = usage.ru_maxrss / 1024  # KiB on Linux
    return figures


# ---------------------------------------------------------------------------------------------


def _short(n: int) -> str:
    return f"{n / 1e6:g}M" if n >= 1e6 else f"{n / 1e3:g}k" if n >= 1e3 else str(n)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ratings", type=int, default=1_000_000, help="ratings in all (1M)")
    parser.add_argument("--schemas", default="hm,tidy")
    parser.add_argument("--formats", default="parquet,csv,jsonl")
    parser.add_argument("--json", action="store_true", help="end stdout with one JSON line")
    parser.add_argument(
        "--database-admin-url",
        default=os.environ.get(
            "BENCH_DATABASE_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres"
        ),  # fmt: skip
        help="where to create (and drop) the benchmark's database",
    )
    return parser.parse_args(argv)


def main(argv=None) -> int:
    if argv is None and len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(*sys.argv[2:6])
        return 0
    args = parse_args(argv)
    database = f"cg_bench_export_{secrets.token_hex(4)}"
    database_url = f"{args.database_admin_url.rsplit('/', 1)[0]}/{database}"
    env = dict(os.environ)
    env.update({"DATABASE_URL": database_url, "DJANGO_SETTINGS_MODULE": "config.settings",
                "LOG_LEVEL": "WARNING", "PYTHONPATH": str(REPO_ROOT)})  # fmt: skip
    with psycopg.connect(args.database_admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}"')
    results = []
    try:
        say(f"database {database}: migrating")
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], env=env,
                       cwd=REPO_ROOT, check=True)  # fmt: skip
        say(f"filling with {args.ratings:,} ratings (COPY)")
        started = time.perf_counter()
        counts = fill(database_url, args.ratings)
        say(f"filled in {time.perf_counter() - started:.0f} s: "
            + ", ".join(f"{t} {n:,}" for t, n in counts.items()))  # fmt: skip
        with tempfile.TemporaryDirectory(prefix="cg-bench-export-") as folder:
            for schema in args.schemas.split(","):
                for fmt in args.formats.split(","):
                    row = {"schema": schema, "format": fmt}
                    for label, deliberations in (("small", 1), ("large", DELIBERATIONS)):
                        out = Path(folder) / f"{schema}-{label}.{fmt}"
                        figures = run_child(env, schema, fmt, deliberations, out)
                        row[label] = figures
                        say(f"{schema}/{fmt} {label}: {figures['ratings'] or 0:,} ratings, "
                            f"{figures['rows']:,} rows in "
                            f"{figures['seconds']:.1f} s, peak {figures['peak_mib']:.0f} MiB")  # fmt: skip
                        subprocess.run(["rm", "-rf", str(out)], check=True)
                    row["ratio"] = row["large"]["peak_mib"] / row["small"]["peak_mib"]
                    results.append(row)
    finally:
        with psycopg.connect(args.database_admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    small, large = _short(args.ratings // DELIBERATIONS), _short(args.ratings)
    print(f"Export of {large} ratings ({small}: one deliberation of ten); "
          f"load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    print(f"| schema | format | {small} rows/s | {small} peak | {large} rows/s | {large} peak "
          f"| peak {large}/{small} (target <= {TARGET_RATIO}) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for row in results:
        small, large = row["small"], row["large"]
        print(f"| {row['schema']} | {row['format']} | {small['rows'] / small['seconds']:,.0f} | "
              f"{small['peak_mib']:.0f} MiB | {large['rows'] / large['seconds']:,.0f} | "
              f"{large['peak_mib']:.0f} MiB | {row['ratio']:.2f} "
              f"{'ok' if row['ratio'] <= TARGET_RATIO else 'OVER'} |")  # fmt: skip
    if args.json:
        print(json.dumps(results))
    return 0 if all(r["ratio"] <= TARGET_RATIO for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
