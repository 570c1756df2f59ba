"""The transformers generator through the real from_pretrained path, with a tiny random model.

The model (GPT-2 layout, 2 layers, width 32) and its word-level tokenizer are built here and
saved with save_pretrained; untrained weights write word salad, so these tests check the
mechanics (batching, seeds, orders, provenance, chat template, refusal of garbage) and not the
quality of the statements.
"""

import json

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")

from inference.base import BadModelOutput, ConfigError, Generator, RoundText  # noqa: E402
from inference.config import BackendConfig, build_generator  # noqa: E402
from inference.generators.hf import TransformersGenerator, from_config  # noqa: E402
from inference.prompts import sample_seed, shuffled_order  # noqa: E402

QUESTION = "Should towns plant more trees along their streets?"
OPINIONS = [
    "Trees cool the streets in summer and make walking pleasant.",
    "Roots break the pavement and repairs cost the town money.",
    "Plant them, but choose species that need little water.",
]
CRITIQUES = ["Say more about shade.", "Costs are ignored.", "Water use matters."]
WINNER = "We agree that trees make streets pleasant, but their costs must be planned."
ROUND = RoundText(question=QUESTION, opinions=OPINIONS)
CRITIQUE_ROUND = RoundText(
    question=QUESTION, opinions=OPINIONS, previous_winner=WINNER, critiques=CRITIQUES
)

CORPUS = [
    *OPINIONS,
    *CRITIQUES,
    WINNER,
    QUESTION,
    "We agree that the group statement should be fair to every member of the group.",
    "The members think the town should plan carefully and listen to everyone.",
]


def build_tiny_model(directory, *, chat_template=None):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.WordLevelTrainer(special_tokens=["[UNK]", "[PAD]", "[EOS]"])
    tokenizer.train_from_iterator(CORPUS, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, unk_token="[UNK]", pad_token="[PAD]", eos_token="[EOS]"
    )
    if chat_template:
        fast.chat_template = chat_template
    config = GPT2Config(
        vocab_size=fast.vocab_size,
        n_positions=1024,
        n_embd=32,
        n_layer=2,
        n_head=2,
        bos_token_id=fast.eos_token_id,
        eos_token_id=fast.eos_token_id,
        pad_token_id=fast.pad_token_id,
    )
    torch.manual_seed(0)
    GPT2LMHeadModel(config).save_pretrained(directory)
    fast.save_pretrained(directory)
    return directory


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return str(build_tiny_model(tmp_path_factory.mktemp("tiny-gpt2")))


@pytest.fixture(scope="module")
def chat_model_dir(tmp_path_factory):
    template = (
        "{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}\n{% endfor %}"
        "{% if add_generation_prompt %}[assistant]{% endif %}"
    )
    return str(build_tiny_model(tmp_path_factory.mktemp("tiny-chat"), chat_template=template))


def raw_generator(model_dir, **options):
    options = {"parse_mode": "raw", "max_new_tokens": 8, "batch_size": 4, **options}
    return from_config(BackendConfig("transformers", model=model_dir, options=options))


def test_batched_samples_with_own_orders_and_provenance(model_dir):
    generator = raw_generator(model_dir, batch_size=4)
    candidates = generator.generate(ROUND, n=6, seed=11)
    assert len(candidates) == 6
    for i, candidate in enumerate(candidates):
        prov = candidate.provenance
        assert prov["backend"] == "transformers"
        assert prov["model"] == model_dir
        assert prov["template_version"] == "opinion-v1"
        assert prov["sample_index"] == i
        assert prov["opinion_order"] == shuffled_order(3, 11, i)
        assert prov["finish_reason"] in ("stop", "length")
        assert candidate.text
        assert isinstance(prov["raw"], str)
        json.dumps(candidate.to_dict())
    # Batches of 4 then 2, each seeded by its first sample.
    assert [c.provenance["batch_size"] for c in candidates] == [4, 4, 4, 4, 2, 2]
    assert {c.provenance["seed"] for c in candidates[:4]} == {sample_seed(11, 0)}
    assert {c.provenance["seed"] for c in candidates[4:]} == {sample_seed(11, 4)}


def test_same_seed_same_samples_and_callers_random_state_untouched(model_dir):
    generator = raw_generator(model_dir)
    torch.manual_seed(123)
    expected_next = torch.rand(1)
    torch.manual_seed(123)
    first = generator.generate(ROUND, n=3, seed=5)
    assert torch.equal(torch.rand(1), expected_next)
    again = generator.generate(ROUND, n=3, seed=5)
    assert [c.text for c in first] == [c.text for c in again]


def test_untrained_output_is_refused_by_the_default_parser(model_dir):
    generator = from_config(
        BackendConfig(
            "transformers",
            model=model_dir,
            options={"max_new_tokens": 8, "bad_output_retries": 1},
        )
    )
    with pytest.raises(BadModelOutput) as caught:
        generator.generate(ROUND, n=2, seed=0)
    assert "2 draw(s)" in str(caught.value)
    assert isinstance(caught.value.raw, str)


def test_critique_iteration_uses_the_critique_template(model_dir):
    generator = raw_generator(model_dir)
    candidates = generator.generate(CRITIQUE_ROUND, n=2, seed=1)
    assert {c.provenance["template_version"] for c in candidates} == {"critique-v1"}
    assert {c.provenance["iteration"] for c in candidates} == {"critique"}


def test_chat_template_is_used_when_the_tokenizer_has_one(model_dir, chat_model_dir):
    chat = raw_generator(chat_model_dir)
    plain = raw_generator(model_dir)
    [plan] = _plans()
    chat_text = chat.prompt_text(plan, chat.load()[1])
    assert chat_text.startswith("[system] ")
    assert chat_text.endswith("[assistant]")
    assert plain.prompt_text(plan, plain.load()[1]) == plan.prompt.text()
    [candidate] = chat.generate(ROUND, n=1, seed=0)
    assert candidate.provenance["backend"] == "transformers"
    # Same weights, same seeds: only the model's input differs when the option turns the template
    # off, so the samples differ only if generate() really feeds the templated prompt.
    templated = chat.generate(ROUND, n=3, seed=0)
    untemplated = raw_generator(chat_model_dir, chat_template=False).generate(ROUND, n=3, seed=0)
    assert [c.provenance["raw"] for c in templated] != [c.provenance["raw"] for c in untemplated]


def _plans():
    from inference.generators.llm import plan_samples

    return plan_samples(
        ROUND,
        n=1,
        seed=0,
        opinion_template="opinion-v1",
        critique_template="critique-v1",
    )


def test_prompt_longer_than_the_context_is_a_config_error(tmp_path):
    from transformers import GPT2Config, GPT2LMHeadModel

    directory = build_tiny_model(tmp_path)
    config = GPT2Config.from_pretrained(directory)
    config.n_positions = 16
    GPT2LMHeadModel(config).save_pretrained(directory)
    with pytest.raises(ConfigError, match="context"):
        raw_generator(str(directory)).generate(ROUND, n=1, seed=0)


def test_registry_describe_and_lazy_loading(model_dir):
    generator = build_generator(BackendConfig("transformers", model=model_dir))
    assert isinstance(generator, TransformersGenerator)
    assert isinstance(generator, Generator)
    assert generator._loaded is None  # nothing loaded until the first generate
    described = generator.describe()
    assert described == {**described, "role": "generator", "backend": "transformers"}
    assert described["model"] == model_dir
    assert "revision" in described


@pytest.mark.parametrize(
    "config",
    [
        BackendConfig("transformers"),
        BackendConfig("transformers", model="m", options={"dtype": "int3"}),
        BackendConfig("transformers", model="m", options={"batch_size": 0}),
        BackendConfig("transformers", model="m", options={"chat_template": "maybe"}),
        BackendConfig("transformers", model="m", options={"devise": "cuda"}),
    ],
)
def test_bad_configs_are_config_errors(config):
    with pytest.raises(ConfigError):
        from_config(config)


def test_missing_model_directory_is_a_config_error(tmp_path):
    generator = raw_generator(str(tmp_path / "nothing-here"))
    with pytest.raises(ConfigError, match="cannot load"):
        generator.generate(ROUND, n=1, seed=0)
