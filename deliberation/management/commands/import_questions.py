"""Import questions from a JSON file in the question bank's format, or from CSV.

    python manage.py import_questions PATH [--format json|csv] [--source NAME] [--dry-run]

The format comes from the file's extension unless `--format` says otherwise; the source recorded
on the questions is the file's name without extension unless `--source` gives one. Prints the
report (created, already present, each skipped row with its reason); a file that cannot be read
as a whole imports nothing and exits with status 1.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from deliberation.errors import DomainError
from deliberation.services.questions import (
    FORMATS,
    import_format_detect,
    import_source_default,
    questions_import,
)

# Below this many bytes an import takes a moment; no progress bar.
PROGRESS_BYTES_MIN = 256 * 1024


class Command(BaseCommand):
    help = (
        "Import questions from a JSON file (the Habermas Machine bank's format) or a CSV file "
        "(header: question, affirming, negating, topic, split, and optionally id). Rows already "
        "present are left as they are, so importing a file again creates nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="The JSON or CSV file.")
        parser.add_argument("--format", choices=FORMATS, help="Default: from the file's extension.")
        parser.add_argument(
            "--source",
            help="Recorded on every imported question. Default: the file's name without extension.",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Validate and report what would be created, writing nothing.",
        )

    def handle(
        self, *args, path: str, format: str | None, source: str | None, dry_run: bool, **options
    ):
        file_path = Path(path)
        format = format or import_format_detect(file_path.name)
        if format is None:
            raise CommandError(
                f"Cannot tell the format of {file_path.name!r} from its extension; give "
                "--format json or --format csv."
            )
        if not file_path.is_file():
            raise CommandError(f"No such file: {file_path}")
        show_progress = sys.stderr.isatty() and file_path.stat().st_size >= PROGRESS_BYTES_MIN
        bar = None

        def progress(done: int, total: int) -> None:
            nonlocal bar
            if not show_progress:
                return
            if bar is None:
                bar = tqdm(total=total, unit="question", desc="Importing", file=sys.stderr)
            bar.update(done - bar.n)

        started = time.perf_counter()
        try:
            with file_path.open("rb") as file:
                report = questions_import(
                    file=file,
                    format=format,
                    source=source if source is not None else import_source_default(file_path.name),
                    dry_run=dry_run,
                    progress=progress,
                )
        except DomainError as exc:
            raise CommandError(f"{file_path.name}: {exc.message} Nothing was imported.") from None
        finally:
            if bar is not None:
                bar.close()
        seconds = time.perf_counter() - started

        created = "Would create" if dry_run else "Created"
        self.stdout.write(
            f"{file_path.name} ({report.format}, source {report.source!r}): {report.rows:,} "
            f"row{'s' if report.rows != 1 else ''}, {seconds:.1f} s."
        )
        self.stdout.write(f"{created}: {report.created:,}")
        self.stdout.write(f"Already present: {report.already_present:,}")
        self.stdout.write(f"Skipped: {len(report.skipped):,}")
        for skipped in report.skipped:
            self.stdout.write(f"  row {skipped.row}: {skipped.reason}")
        if dry_run:
            self.stdout.write("Dry run: nothing was written.")
