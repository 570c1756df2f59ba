"""How long the whole question bank takes to import: `make bench-import`.

A benchmark figure, not a test: the import is timed in a database of its own (created from
DATABASE_URL's server and dropped after), once into an empty table and once more (everything
already present). Prints one line per pass and, with --json, one JSON object at the end.

    python tests/bench/question_import.py [--bank PATH] [--json]
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

import django

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


def main() -> int:
    django.setup()
    from django.conf import settings
    from django.test.utils import setup_databases, teardown_databases

    from deliberation.services.questions import questions_import

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bank", type=Path, default=Path(settings.QUESTION_BANK_PATH))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not args.bank.exists():
        print(f"no question bank at {args.bank}; give --bank PATH", file=sys.stderr)
        return 2
    # A name no test run uses: setup_databases replaces a database of the same name.
    settings.DATABASES["default"].setdefault("TEST", {})["NAME"] = f"bench_import_{os.getpid()}"
    databases = setup_databases(verbosity=0, interactive=False)
    try:
        report = {"bank": str(args.bank), "cpu_count": os.cpu_count(), "load": os.getloadavg()}
        for name in ("first_import_s", "second_import_s"):
            with args.bank.open("rb") as file:
                started = time.perf_counter()
                result = questions_import(file=file, format="json", source="hm_questions")
                report[name] = round(time.perf_counter() - started, 3)
            print(
                f"{name}: {report[name]:.2f} s ({result.rows} rows, {result.created} created, "
                f"{result.already_present} already present)"
            )
    finally:
        teardown_databases(databases, verbosity=0)
    if args.json:
        print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
