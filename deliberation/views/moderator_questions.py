"""The moderator's Questions page: the question bank, searchable, and the import of a file."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from deliberation.access import moderator_required
from deliberation.errors import DomainError
from deliberation.forms_questions import QuestionImportForm, QuestionSearchForm
from deliberation.selectors.question_bank import question_counts, question_search
from deliberation.services.questions import BANK_SOURCE, import_source_default, questions_import

PAGE_SIZE = 50
SKIPPED_SHOWN = 50


@require_http_methods(["GET", "POST"])
@moderator_required
def questions(request: HttpRequest) -> HttpResponse:
    """GET lists the questions; POST imports a file and shows its report above the list, or
    the file refused with why (400, or the refusal's status) and nothing imported.

    Posting the same file again is harmless: the import creates nothing twice."""
    report, status = None, 200
    form = QuestionImportForm()
    if request.method == "POST":
        form = QuestionImportForm(request.POST, request.FILES)
        if not form.is_valid():
            status = 400
        else:
            data = form.cleaned_data
            try:
                report = questions_import(
                    file=data["file"],
                    format=data["format"],
                    source=data["source"] or import_source_default(data["file"].name),
                    dry_run=data["dry_run"],
                )
            except DomainError as exc:
                form.add_error("file", f"{exc.message} Nothing was imported.")
                status = exc.status
            else:
                form = QuestionImportForm()

    search = QuestionSearchForm(request.GET)
    filters = search.cleaned_data if search.is_valid() else {}
    matching = question_search(
        text=filters.get("q", "").strip(),
        topic=filters.get("topic", "").strip(),
        split=filters.get("split", ""),
    )
    page = Paginator(matching, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "deliberation/moderator/questions.html",
        {
            "form": form,
            "report": report,
            "skipped_shown": report.skipped[:SKIPPED_SHOWN] if report else [],
            "skipped_more": max(0, len(report.skipped) - SKIPPED_SHOWN) if report else 0,
            "search": search,
            "searching": any(filters.values()),
            "counts": question_counts(matching),
            "page": page,
            # The bank's licence asks for credit wherever its questions are shown.
            "bank_shown": any(question.source == BANK_SOURCE for question in page),
        },
        status=status,
    )
