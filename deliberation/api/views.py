"""The API's views: parse the query or body (serializers), check access (`deliberation.access`),
read a selector or call one service, and answer. One view per resource and action."""

from __future__ import annotations

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle, UserRateThrottle
from rest_framework.views import APIView

from deliberation.access import (
    get_export_job,
    get_research_deliberation,
    require_question_importer,
    require_question_reader,
    research_deliberations,
)
from deliberation.api import serializers as s
from deliberation.api.pagination import IdCursorPagination
from deliberation.selectors.question_bank import question_search
from deliberation.selectors.research import (
    deliberations_for_api,
    export_jobs_started_by,
    groups_for_api,
    iteration_detail_for_api,
    iterations_for_api,
    rankings_for_api,
    ratings_for_api,
    rounds_for_api,
)
from deliberation.services.export_jobs import export_job_create, export_job_open
from deliberation.services.questions import import_format_detect, questions_import


def _filters(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return {k: v for k, v in serializer.validated_data.items() if v not in ("", None)}


class DeliberationList(generics.ListAPIView):
    """Deliberations you may read: shared with you, yours, or all with `view_all`."""

    serializer_class = s.DeliberationOut

    def get_queryset(self):
        return deliberations_for_api(research_deliberations(self.request.user))


class DeliberationDetail(generics.RetrieveAPIView):
    serializer_class = s.DeliberationOut

    def get_object(self):
        deliberation = get_research_deliberation(self.request.user, self.kwargs["public_id"])
        return deliberations_for_api(research_deliberations(self.request.user)).get(
            pk=deliberation.pk
        )


@extend_schema(parameters=[s.ScopeFilter])
class GroupList(generics.ListAPIView):
    serializer_class = s.GroupOut

    def get_queryset(self):
        filters = _filters(s.ScopeFilter, self.request)
        return groups_for_api(research_deliberations(self.request.user), **filters)


@extend_schema(parameters=[s.GroupScopeFilter])
class RoundList(generics.ListAPIView):
    serializer_class = s.RoundOut

    def get_queryset(self):
        filters = _filters(s.GroupScopeFilter, self.request)
        return rounds_for_api(research_deliberations(self.request.user), **filters)


@extend_schema(parameters=[s.RoundScopeFilter])
class IterationList(generics.ListAPIView):
    serializer_class = s.IterationOut

    def get_queryset(self):
        filters = _filters(s.RoundScopeFilter, self.request)
        return iterations_for_api(research_deliberations(self.request.user), **filters)


class IterationDetail(generics.RetrieveAPIView):
    """One iteration with every statement (candidates and comparisons), the reward model's
    predictions per member, the group scores and the winner."""

    serializer_class = s.IterationDetailOut
    lookup_url_kwarg = "pk"

    def get_queryset(self):
        return iteration_detail_for_api(research_deliberations(self.request.user))


@extend_schema(parameters=[s.ResponseFilter])
class RatingList(generics.ListAPIView):
    """Ratings (agreement and quality, 1-7), oldest first, by cursor. Bots are left out unless
    `include_bots` is true."""

    serializer_class = s.RatingOut
    pagination_class = IdCursorPagination

    def get_queryset(self):
        filters = _filters(s.ResponseFilter, self.request)
        return ratings_for_api(research_deliberations(self.request.user), **_response(filters))


@extend_schema(parameters=[s.ResponseFilter])
class RankingList(generics.ListAPIView):
    """Rankings (statement ids in the order shown; 0 = best), by cursor, filtered as ratings."""

    serializer_class = s.RankingOut
    pagination_class = IdCursorPagination

    def get_queryset(self):
        filters = _filters(s.ResponseFilter, self.request)
        return rankings_for_api(research_deliberations(self.request.user), **_response(filters))


def _response(filters: dict) -> dict:
    return {
        "deliberation": filters.get("deliberation"),
        "condition": filters.get("condition", ""),
        "iteration": filters.get("iteration"),
        "since": filters.get("since"),
        "until": filters.get("until"),
        "include_bots": filters.get("include_bots", False),
    }


@extend_schema(parameters=[s.QuestionFilter])
class QuestionList(generics.ListAPIView):
    """The question bank (moderators and researchers), searched by text, topic and split."""

    serializer_class = s.QuestionOut

    def get_queryset(self):
        require_question_reader(self.request.user)
        filters = _filters(s.QuestionFilter, self.request)
        return question_search(
            text=filters.get("search", ""),
            topic=filters.get("topic", ""),
            split=filters.get("split", ""),
        )


class QuestionImport(APIView):
    """Import questions from a CSV or JSON file (moderators), as `manage.py import_questions`
    does: all or nothing for a file that cannot be read, row by row otherwise."""

    parser_classes = [MultiPartParser]

    @extend_schema(
        request={"multipart/form-data": s.QuestionImportIn},
        responses={200: s.QuestionImportOut, 201: s.QuestionImportOut},
    )
    def post(self, request):
        require_question_importer(request.user)
        form = s.QuestionImportIn(data=request.data)
        form.is_valid(raise_exception=True)
        upload = form.validated_data["file"]
        fmt = form.validated_data.get("format") or import_format_detect(upload.name) or "csv"
        report = questions_import(
            file=upload,
            format=fmt,
            source=form.validated_data.get("source") or "api",
            dry_run=form.validated_data["dry_run"],
        )
        code = status.HTTP_201_CREATED if report.created and not report.dry_run else 200
        return Response(s.QuestionImportOut(report).data, status=code)


class ExportListCreate(APIView):
    """Your export jobs (newest first); POST starts one (it runs in the background: poll the
    job until `status` is `done`, then fetch `download_url`)."""

    throttle_scope = "exports"

    def get_throttles(self):
        if self.request.method == "POST":
            return [UserRateThrottle(), ScopedRateThrottle()]
        return super().get_throttles()

    @extend_schema(responses={200: s.ExportOut(many=True)})
    def get(self, request):
        jobs = export_jobs_started_by(request.user, research_deliberations(request.user))[:100]
        return Response(s.ExportOut(jobs, many=True, context={"request": request}).data)

    @extend_schema(request=s.ExportIn, responses={202: s.ExportOut})
    def post(self, request):
        form = s.ExportIn(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        deliberation = get_research_deliberation(request.user, data["deliberation"])
        job = export_job_create(
            deliberation=deliberation,
            actor=request.user,
            schema=data["schema"],
            fmt=data["format"],
            include_bots=data["include_bots"],
            include_identifiers=data["include_identifiers"],
        )
        return Response(
            s.ExportOut(job, context={"request": request}).data, status=status.HTTP_202_ACCEPTED
        )


class ExportDetail(APIView):
    @extend_schema(responses={200: s.ExportOut})
    def get(self, request, public_id):
        job = get_export_job(request.user, public_id)
        return Response(s.ExportOut(job, context={"request": request}).data)


class ExportDownload(APIView):
    @extend_schema(
        responses={
            (200, "application/octet-stream"): OpenApiResponse(
                OpenApiTypes.BINARY, description="The export file."
            )
        }
    )
    def get(self, request, public_id):
        job = get_export_job(request.user, public_id)
        handle = export_job_open(job=job, actor=request.user)
        return FileResponse(
            handle,
            as_attachment=True,
            filename=job.file_name.rsplit("/", 1)[-1],
            content_type="application/octet-stream",
        )
