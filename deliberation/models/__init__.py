"""The domain of a deliberation study, as DESIGN.md and METHOD.md describe it.

The database itself makes double submissions harmless: one opinion or critique per member and
iteration, one rating per member, statement and iteration, one candidate set per iteration, one
winner per iteration. Business rules live in `deliberation.services`, not here.
"""

from deliberation.models.mediation import (
    CandidateSet,
    ModelVersion,
    Prediction,
    Statement,
)
from deliberation.models.people import (
    ConsentRecord,
    Group,
    PanelIdentity,
    Participant,
)
from deliberation.models.research import ApiToken, DeliberationShare, ExportJob
from deliberation.models.responses import (
    AuditLog,
    PositionRating,
    Ranking,
    Rating,
    SurveyResponse,
)
from deliberation.models.rounds import (
    Critique,
    Iteration,
    MemberText,
    Opinion,
    Round,
)
from deliberation.models.studies import (
    SURVEY_KINDS,
    TEXT_MAX,
    Condition,
    Deliberation,
    DeliberationQuestion,
    Provenance,
    Question,
    default_survey_items,
)
from deliberation.models.workers import WorkerHeartbeat

__all__ = [
    "TEXT_MAX",
    "SURVEY_KINDS",
    "default_survey_items",
    "Provenance",
    "Question",
    "Deliberation",
    "DeliberationQuestion",
    "Condition",
    "Group",
    "Participant",
    "ConsentRecord",
    "PanelIdentity",
    "Round",
    "Iteration",
    "MemberText",
    "Opinion",
    "Critique",
    "ModelVersion",
    "CandidateSet",
    "Statement",
    "Prediction",
    "Rating",
    "Ranking",
    "PositionRating",
    "SurveyResponse",
    "AuditLog",
    "WorkerHeartbeat",
    "DeliberationShare",
    "ApiToken",
    "ExportJob",
]
