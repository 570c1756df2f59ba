"""The columns of the `hm` schema (HM_SCHEMA.md): dotted names and [T24]'s enum encodings."""

import pyarrow as pa

from deliberation.exports.columns import Column

AGREEMENT = ("MOCK", "STRONGLY_DISAGREE", "DISAGREE", "SOMEWHAT_DISAGREE", "NEUTRAL",
             "SOMEWHAT_AGREE", "AGREE", "STRONGLY_AGREE")  # fmt: skip
QUALITY = ("MOCK", "TERRIBLE_QUALITY", "POOR_QUALITY", "SOMEWHAT_POOR_QUALITY", "NEUTRAL",
           "SOMEWHAT_GOOD_QUALITY", "GOOD_QUALITY", "EXCELLENT_QUALITY")  # fmt: skip
SPLIT = {"": "MOCK", "train": "TRAIN", "validation": "VALIDATION", "iid_test": "IID_TEST",
         "ood_test": "OOD_TEST"}  # fmt: skip
MOCK = "MOCK"
NO_RANK = -1

_S, _I, _F = pa.string(), pa.int64(), pa.float64()
_T = pa.timestamp("us", tz="UTC")
_TYPE = {_S: "string", _I: "integer", _F: "number", _T: "datetime"}


def _c(name: str, arrow: pa.DataType) -> Column:
    return Column(name, _TYPE.get(arrow, "array"), arrow)


def _list(name: str, arrow: pa.DataType) -> Column:
    return Column(name, "array", pa.list_(arrow))


def _text_fields(prefix: str, make) -> list[Column]:
    """The fields of a member's text (own opinion, other opinions, critique)."""
    return [
        make(f"{prefix}.text", _S),
        make(f"{prefix}.metadata.id", _I),
        make(f"{prefix}.metadata.provenance", _S),
        make(f"{prefix}.metadata.participant_id", _S),
        make(f"{prefix}.metadata.created", _T),
        make(f"{prefix}.metadata.response_duration", _I),
        make(f"{prefix}.metadata.status", _S),
        make(f"{prefix}.metadata.hidden_reason", _S),
    ]


def _statement_fields(prefix: str, make) -> list[Column]:
    return [
        make(f"{prefix}.text", _S),
        make(f"{prefix}.metadata.id", _I),
        make(f"{prefix}.metadata.provenance", _S),
        make(f"{prefix}.metadata.role", _S),
        make(f"{prefix}.display_label", _S),
        make(f"{prefix}.aggregation.method", _S),
        make(f"{prefix}.reward_data.reward_predictions", _F),
        make(f"{prefix}.parent_statement_ids", pa.list_(_I)),
        make(f"{prefix}.metadata.generative_model.api_version", _S),
        make(f"{prefix}.metadata.generative_model.template_name", _S),
        make(f"{prefix}.metadata.reward_model.api_version", _S),
        make(f"{prefix}.metadata.created", _T),
    ]


HM_COLUMNS: list[Column] = [
    _c("launch_id", _I),
    _c("round_id", _I),
    _c("iteration_id", _I),
    _c("iteration_index", _I),
    _c("worker_id", _S),
    _c("metadata.id", _S),
    _c("metadata.participant_id", _S),
    _c("metadata.provenance", _S),
    _c("metadata.version", _S),
    _c("metadata.created", _T),
    _c("metadata.updated", _T),
    _c("metadata.status", _S),
    _c("metadata.response_duration", _I),
    _c("metadata.task_duration", _I),
    _c("monotonic_timestamp", _F),
    _c("question.id", _S),
    _c("question.text", _S),
    _c("question.split", _S),
    _c("question.provenance", _S),
    _c("question.topic", _S),
    _c("question.affirming_statement", _S),
    _c("question.negating_statement", _S),
    *_text_fields("own_opinion", _c),
    _c("own_opinion.display_label", _S),
    *_text_fields("other_opinions", _list),
    *_text_fields("critique", _c),
    *_statement_fields("candidates", _list),
    _list("candidates.all_texts", pa.list_(_S)),
    _list("candidates.all_reward_predictions", pa.list_(_F)),
    *_statement_fields("top_candidate", _c),
    _list("ratings.agreement", _S),
    _list("ratings.quality", _S),
    _list("ratings.metadata.id", _I),
    _list("ratings.metadata.created", _T),
    _list("ratings.metadata.response_duration", _I),
    _list("rankings.candidate_ids", _I),
    _list("rankings.numerical_ranks", _I),
    _list("rankings.metadata.id", _I),
]
HM_NAMES = [c.name for c in HM_COLUMNS]
