"""Closing the loop on the real stack: a simulated study is exported, a reward model trained on
it beats the prior on held-out questions, the gate promotes it (and refuses a worse one), the
next mediations are scored by it and record its version; a pinned cross-encoder directory is
served by the `transformers` backend inside a real mediation; the SFT export keeps what was rated
above the threshold; bad input gets a clear error."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

from deliberation.models import AuditLog, CandidateSet, ModelVersion, Rating, Statement
from deliberation.services.deliberations import deliberation_create
from deliberation.services.model_versions import (
    PromotionRefused,
    reward_model_pin,
    reward_model_promote,
    reward_model_register,
)
from deliberation.services.study_settings import ConditionError
from inference.training.cross_encoder import train_cross_encoder
from inference.training.datasets import build_dataset
from tests.deliberation.test_moderator_pages import detail_url
from tests.deliberation.test_round_flow import write_all
from tests.inference.tidy_builder import TOPICS, build_tables, write_export

pytestmark = [pytest.mark.django_db, pytest.mark.timeout(600)]
# `simulate` runs each task after the commit that sends it: its tests need real commits. The
# bots draw their answers from seeds made of row ids, so ids start at 1 again, whatever tests ran
# before: the simulated study, and the model trained on it, are then the same in every run.
SIMULATES = pytest.mark.django_db(transaction=True, reset_sequences=True)


def _run(*args) -> dict:
    out = io.StringIO()
    call_command(*args, "--json", stdout=out)
    return json.loads(out.getvalue())


def _version(metrics_trained: float, metrics_serving: float, serving_id=None, **extra):
    metrics = {
        "heldout": {
            "prior": {"mae": metrics_serving},
            "serving": {"mae": metrics_serving},
            "trained": {"mae": metrics_trained},
        },
        "serving_version_id": serving_id,
    }
    return reward_model_register(
        kind="head",
        directory=extra.pop("directory", f"/tmp/nowhere-{metrics_trained}"),
        config=extra.pop("config", {"backend": "fake"}),
        description={"model": "test", "revision": str(metrics_trained)},
        metrics=metrics,
        provenance={"export_digest": "0" * 64},
    )


@SIMULATES
@pytest.mark.slow
def test_the_loop_trains_a_head_that_beats_the_prior_and_scores_the_next_groups(settings, tmp_path):
    settings.INFERENCE_ENV = {"GENERATOR_BACKEND": "extractive", "REWARD_BACKEND": "embedding",
                              "MEDIATION_CANDIDATES": "4"}  # fmt: skip
    study = _run("simulate", "--groups", "2", "--size", "3", "--rounds", "4",
                 "--question-source", "built-in", "--seed", "3")  # fmt: skip
    result = _run("train_reward_model", "--kind", "head", "--out", str(tmp_path / "head"),
                  "--deliberation", study["deliberation"], "--include-bots")  # fmt: skip
    heldout = result["heldout"]
    assert heldout["trained"]["mae"] < heldout["prior"]["mae"]
    # The server's default is the untrained embedding model: serving and prior agree.
    assert heldout["serving"]["mae"] == heldout["prior"]["mae"]
    assert result["examples"]["train"] + result["examples"]["heldout"] == Rating.objects.count()
    version = ModelVersion.objects.get(pk=result["model_version"])
    assert version.status == ModelVersion.Status.TRAINED and version.path == result["dir"]
    assert version.metrics["heldout"]["trained"]["mae"] == heldout["trained"]["mae"]
    provenance = version.details["provenance"]
    assert not set(provenance["questions"]["train"]) & set(provenance["questions"]["heldout"])

    out = io.StringIO()
    call_command("promote_model", str(version.pk), stdout=out)
    assert "New mediations use it" in out.getvalue()
    version.refresh_from_db()
    assert version.status == ModelVersion.Status.PROMOTED and version.promoted_at is not None
    assert AuditLog.objects.filter(action="model_promote", target_id=version.pk).exists()

    before = set(CandidateSet.objects.values_list("pk", flat=True))
    _run("simulate", "--groups", "1", "--size", "3", "--question-source", "built-in")
    after = CandidateSet.objects.exclude(pk__in=before)
    assert after.exists()
    assert {c.reward_model_id for c in after} == {version.pk}
    assert all(c.config["reward"]["options"]["head_path"].startswith(result["dir"]) for c in after)


def test_the_gate_refuses_a_worse_model_and_promotes_a_better_one():
    worse = _version(1.2, 1.0)
    with pytest.raises(PromotionRefused, match=r"not better by 0\.200") as refused:
        reward_model_promote(version=worse)
    assert refused.value.margin == pytest.approx(0.2)
    worse.refresh_from_db()
    assert worse.status == ModelVersion.Status.TRAINED
    with pytest.raises(CommandError, match="not promoted.*--force"):
        call_command("promote_model", str(worse.pk), stdout=io.StringIO())

    better = _version(0.8, 1.0)
    assert reward_model_promote(version=better)["passes"]
    better.refresh_from_db()
    assert better.status == ModelVersion.Status.PROMOTED
    # A model compared with the server's default cannot displace the promoted one unchecked.
    other = _version(0.5, 1.0)
    with pytest.raises(PromotionRefused, match=f"but version {better.pk} serves now"):
        reward_model_promote(version=other)
    # Evaluated against the promoted model and better: it replaces it, which retires the other.
    newer = _version(0.7, 0.8, serving_id=better.pk)
    reward_model_promote(version=newer)
    better.refresh_from_db()
    assert better.status == ModelVersion.Status.RETIRED
    assert ModelVersion.objects.filter(status=ModelVersion.Status.PROMOTED).get() == newer


def test_force_promotes_a_worse_model_and_the_audit_log_says_so():
    worse = _version(1.5, 1.0)
    call_command("promote_model", str(worse.pk), "--force", stdout=io.StringIO())
    worse.refresh_from_db()
    assert worse.status == ModelVersion.Status.PROMOTED
    entry = AuditLog.objects.get(action="model_promote_forced", target_id=worse.pk)
    assert entry.data["forced"] is True and entry.data["margin"] == pytest.approx(0.5)


@pytest.mark.slow
def test_a_pinned_cross_encoder_scores_a_real_mediation_with_the_transformers_backend(
    make_group, tmp_path
):
    tables = build_tables(questions=TOPICS[:5], members=3, candidates=3, seed=1)
    dataset = build_dataset(tables, population="bots")
    directory = tmp_path / "ce"
    train_cross_encoder(dataset.train.head(16), out=directory, max_length=48, batch_size=8,
                        progress=False)  # fmt: skip
    config = {"backend": "transformers", "model": str(directory), "options": {"max_length": 48}}
    version = _version(0.5, 1.0, directory=str(directory), config=config)
    deliberation, members = make_group(3)
    reward_model_pin(deliberation=deliberation, version=version)
    iteration = write_all(members)
    candidate_set = CandidateSet.objects.get(iteration=iteration)
    assert candidate_set.reward_model_id == version.pk
    assert candidate_set.config["reward"]["backend"] == "transformers"
    values = [v for row in candidate_set.predictions for v in row]
    assert values and all(1 <= v <= 7 for v in values)
    assert len(set(values)) > 1  # the model read the texts, not a constant


def test_a_pin_to_a_version_that_cannot_serve_fails_the_mediation_with_the_reason(make_group):
    version = _version(0.5, 1.0, directory="/nonexistent/model", config={"backend": "fake"})
    deliberation, members = make_group(3)
    reward_model_pin(deliberation=deliberation, version=version)
    iteration = write_all(members)
    assert iteration.state == "failed"
    assert "no files at /nonexistent/model" in iteration.failure_reason


@SIMULATES
def test_export_sft_keeps_statements_rated_above_the_threshold(fake_model_servers, tmp_path):
    study = _run("simulate", "--groups", "1", "--size", "3", "--question-source", "built-in")
    out = tmp_path / "sft.jsonl"
    people = _run("export_sft", "--out", str(out), "--deliberation", study["deliberation"])
    assert people["examples"] == 0  # bots only: nothing a person rated
    for threshold in ("3", "4.5"):
        summary = _run("export_sft", "--out", str(out), "--include-bots", "--min-quality",
                       threshold)  # fmt: skip
        records = [json.loads(line) for line in out.read_text().splitlines()]
        assert summary["examples"] == len(records)
        for record in records:
            mean = (
                sum(
                    Rating.objects.filter(
                        statement_id=record["metadata"]["statement_id"]
                    ).values_list("quality", flat=True)
                )
                / record["metadata"]["ratings"]
            )
            assert mean > float(threshold) and record["metadata"]["mean_quality"] == round(mean, 4)
            assert record["messages"][0]["role"] == "system"
            assert record["messages"][2]["content"].startswith("<statement>")
        rated = {s for s in Rating.objects.values_list("statement_id", flat=True)}
        above = {s for s in rated if _mean_quality(s) > float(threshold)}
        assert {r["metadata"]["statement_id"] for r in records} == {
            s for s in above if _is_candidate(s)
        }


def _mean_quality(statement_id):
    values = list(
        Rating.objects.filter(statement_id=statement_id).values_list("quality", flat=True)
    )
    return sum(values) / len(values)


def _is_candidate(statement_id):
    return Statement.objects.get(pk=statement_id).role == "candidate"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--kind", "forest"], "Unknown --kind 'forest'"),
        (["--kind", "head"], "no agreement ratings by people"),
        (["--kind", "head", "--deliberation", "not-a-uuid"], "not a deliberation's public id"),
        (["--kind", "head", "--epochs", "0"], "--epochs must be at least 1"),
    ],
)
def test_train_reward_model_refuses_bad_input_and_registers_nothing(tmp_path, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("train_reward_model", *args, "--out", str(tmp_path / "m"),
                     stdout=io.StringIO(), stderr=io.StringIO())  # fmt: skip
    assert not ModelVersion.objects.exists()


def test_train_reward_model_refuses_an_export_of_one_question(tmp_path):
    export = write_export(build_tables(questions=TOPICS[:1]), tmp_path / "export")
    with pytest.raises(CommandError, match="1 question; .*at least two"):
        call_command("train_reward_model", "--kind", "head", "--out", str(tmp_path / "m"),
                     "--export", str(export), "--include-bots", stdout=io.StringIO())  # fmt: skip
    assert not ModelVersion.objects.exists()


def test_the_moderator_page_names_the_pinned_version_or_why_it_cannot_serve(
    client, moderator, tmp_path
):
    deliberation = deliberation_create(
        created_by=moderator, title="Pinned", questions=["Should parks stay open at night?"],
        group_size=3, min_group_size=3,
    )  # fmt: skip
    client.force_login(moderator)
    (tmp_path / "head").mkdir()
    version = _version(0.5, 1.0, directory=str(tmp_path / "head"), config={"backend": "fake"})
    reward_model_pin(deliberation=deliberation, version=version)
    html = client.get(detail_url(deliberation)).content.decode()
    assert f"Trained here: model version {version.pk} (trained here, not promoted)" in html
    (tmp_path / "head").rmdir()
    html = client.get(detail_url(deliberation)).content.decode()
    assert "Mediations will fail" in html and f"version {version.pk} has no files" in html


def test_a_condition_pins_a_version_and_a_plain_backend_override_leaves_the_promoted_one(
    make_group, tmp_path
):
    (tmp_path / "pinned").mkdir()
    pinned = _version(0.6, 1.0, directory=str(tmp_path / "pinned"), config={"backend": "fake"})
    promoted = _version(0.5, 1.0, directory=str(tmp_path), config={"backend": "fake"})
    reward_model_promote(version=promoted)

    arm = {"name": "pinned", "mediation_config": {"reward_model_version": pinned.pk}}
    _, members = make_group(3, conditions=[arm])
    assert CandidateSet.objects.get(iteration=write_all(members)).reward_model_id == pinned.pk

    arm = {"name": "fake", "mediation_config": {"reward": {"backend": "fake"}}}
    _, members = make_group(3, conditions=[arm])
    recorded = CandidateSet.objects.get(iteration=write_all(members)).reward_model
    assert recorded.pk not in (pinned.pk, promoted.pk)
    assert recorded.status == ModelVersion.Status.RECORDED and recorded.backend == "fake"

    _, members = make_group(3)  # no override: the promoted version scores it
    assert CandidateSet.objects.get(iteration=write_all(members)).reward_model_id == promoted.pk


def test_a_condition_cannot_pin_a_version_that_does_not_exist(make_group):
    arm = {"name": "pinned", "mediation_config": {"reward_model_version": 999_999}}
    with pytest.raises(ConditionError, match="no reward model version 999999"):
        make_group(3, conditions=[arm])


def test_pin_reward_model_pins_a_condition_and_unpins_it(make_group, tmp_path):
    version = _version(0.5, 1.0, directory=str(tmp_path), config={"backend": "fake"})
    deliberation, _ = make_group(3, conditions=[{"name": "arm-a"}])
    out = io.StringIO()
    call_command("pin_reward_model", str(deliberation.public_id), str(version.pk),
                 "--condition", "arm-a", stdout=out)  # fmt: skip
    assert f"Condition 'arm-a' pinned to reward model version {version.pk}" in out.getvalue()
    condition = deliberation.conditions.get()
    assert condition.mediation_config["reward_model_version"] == version.pk
    assert AuditLog.objects.filter(action="reward_model_pin", target_id=condition.pk).exists()
    call_command("pin_reward_model", str(deliberation.public_id), "--unpin", "--condition",
                 "arm-a", stdout=io.StringIO())  # fmt: skip
    condition.refresh_from_db()
    assert "reward_model_version" not in condition.mediation_config
    with pytest.raises(CommandError, match="no reward model version 424242"):
        call_command("pin_reward_model", str(deliberation.public_id), "424242")
    with pytest.raises(CommandError, match="not both"):
        call_command("pin_reward_model", str(deliberation.public_id), str(version.pk), "--unpin")
