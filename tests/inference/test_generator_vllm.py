import json

import pytest

from inference.base import (
    BackendUnavailable,
    BadModelOutput,
    Candidate,
    ConfigError,
    Generator,
    RoundText,
)
from inference.config import BackendConfig, build_generator
from inference.generators.vllm import VLLMGenerator, from_config, normalise_url
from inference.prompts import sample_seed, shuffled_order
from tests.inference.vllm_fake_server import FakeOpenAIServer, Reply, SleepRecorder, free_port

QUESTION = "Should the voting age be lowered to 16?"
OPINIONS = [
    "Young people pay taxes and should have a say in how they are spent.",
    "At sixteen most people are not ready to weigh complex political questions.",
    "Lowering the age could build a habit of voting early in life.",
    "I am unsure; schools would first need to teach civics properly.",
    "Parents would effectively get a second vote.",
]
CRITIQUES = [
    "It ignores taxes.",
    "Too keen on lowering the age.",
    "Fine as it is.",
    "Say more about schools.",
    "Nothing about parental influence.",
]
WINNER = "We agree young people deserve a voice, but differ on whether sixteen is the right age."
ROUND = RoundText(question=QUESTION, opinions=OPINIONS)
CRITIQUE_ROUND = RoundText(
    question=QUESTION, opinions=OPINIONS, previous_winner=WINNER, critiques=CRITIQUES
)


@pytest.fixture
def server():
    with FakeOpenAIServer(model="org/mediator-70b") as fake:
        yield fake


def generator_for(server, **options):
    options.setdefault("timeout", 5.0)
    config = BackendConfig(
        backend="vllm", url=server.url, model="org/mediator-70b", options=options
    )
    generator = from_config(config)
    generator.client.sleep = SleepRecorder()
    return generator


def shown_order(body):
    """Which opinion sits at each position of the prompt the server received."""
    text = body["messages"][1]["content"] if "messages" in body else body["prompt"]
    return sorted(range(len(OPINIONS)), key=lambda i: text.index(OPINIONS[i]))


def test_n_samples_go_out_concurrently_each_with_its_own_seed_and_order():
    with FakeOpenAIServer(hold_until_in_flight=6) as server:
        generator = generator_for(server, max_concurrency=6)
        candidates = generator.generate(ROUND, n=6, seed=42)

    assert server.max_in_flight == 6
    assert len(candidates) == 6
    bodies = sorted(server.bodies("/v1/chat/completions"), key=lambda b: b["seed"])
    expected_seeds = sorted(sample_seed(42, i) for i in range(6))
    assert [b["seed"] for b in bodies] == expected_seeds
    for i, candidate in enumerate(candidates):
        prov = candidate.provenance
        assert prov["sample_index"] == i
        assert prov["seed"] == sample_seed(42, i)
        assert prov["opinion_order"] == shuffled_order(len(OPINIONS), 42, i)
        body = next(b for b in bodies if b["seed"] == prov["seed"])
        assert shown_order(body) == prov["opinion_order"]
        assert body["model"] == "org/mediator-70b"
        assert body["n"] == 1
        # The fake server echoes the seed in its statement: each candidate is its own answer.
        assert f"sample seed {prov['seed']}" in candidate.text
    assert len({tuple(c.provenance["opinion_order"]) for c in candidates}) > 1


def test_candidates_carry_full_provenance(server):
    generator = generator_for(server, temperature=0.7, max_tokens=300)
    [candidate] = generator.generate(ROUND, n=1, seed=1)
    assert isinstance(candidate, Candidate)
    prov = candidate.provenance
    assert prov["backend"] == "vllm"
    assert prov["model"] == "org/mediator-70b"
    assert prov["template_version"] == "opinion-v1"
    assert prov["finish_reason"] == "stop"
    assert prov["raw"].startswith("Some thinking")
    assert "<statement>" not in candidate.text
    assert prov["attempts"] == 1
    assert prov["response_id"].startswith("chatcmpl-")
    body = server.bodies()[0]
    assert body["temperature"] == 0.7
    assert body["max_tokens"] == 300
    json.dumps(candidate.to_dict())


def test_critique_iteration_sends_the_previous_winner_and_critiques(server):
    generator = generator_for(server)
    [candidate] = generator.generate(CRITIQUE_ROUND, n=1, seed=3)
    prompt = server.bodies()[0]["messages"][1]["content"]
    assert WINNER in prompt
    assert all(critique in prompt for critique in CRITIQUES)
    assert candidate.provenance["template_version"] == "critique-v1"
    assert candidate.provenance["iteration"] == "critique"


def test_completions_endpoint_sends_a_plain_prompt(server):
    generator = generator_for(server, endpoint="completions")
    [candidate] = generator.generate(ROUND, n=1, seed=5)
    request = server.requests[0]
    assert request.path == "/v1/completions"
    assert "messages" not in request.body
    assert all(opinion in request.body["prompt"] for opinion in OPINIONS)
    assert candidate.provenance["response_id"].startswith("cmpl-")


def test_retries_429_and_500_then_succeeds(server):
    server.script(Reply("status", status=429, retry_after=1), Reply("status", status=500))
    generator = generator_for(server, retries=3)
    [candidate] = generator.generate(ROUND, n=1, seed=0)
    assert len(server.requests) == 3
    assert generator.client.sleep.delays[0] == 1.0
    assert candidate.provenance["finish_reason"] == "stop"


def test_exhausted_retries_raise_backend_unavailable(server):
    server.script(*[Reply("status", status=503)] * 3)
    generator = generator_for(server, retries=2)
    with pytest.raises(BackendUnavailable, match="HTTP 503"):
        generator.generate(ROUND, n=1, seed=0)
    assert len(server.requests) == 3


def test_slow_server_times_out(server):
    server.script(Reply("slow", delay=1.0), Reply("slow", delay=1.0))
    generator = generator_for(server, timeout=0.2, retries=1)
    with pytest.raises(BackendUnavailable, match="timed out"):
        generator.generate(ROUND, n=1, seed=0)


def test_malformed_body_is_bad_model_output(server):
    server.script(Reply("malformed"))
    generator = generator_for(server)
    with pytest.raises(BadModelOutput) as caught:
        generator.generate(ROUND, n=1, seed=0)
    assert "<html>" in caught.value.raw


@pytest.mark.parametrize("kind", ["empty", "truncated"])
def test_unusable_answer_is_redrawn_with_a_new_seed(server, kind):
    server.script(Reply(kind))
    generator = generator_for(server, bad_output_retries=1)
    [candidate] = generator.generate(ROUND, n=1, seed=9)
    seeds = [body["seed"] for body in server.bodies()]
    assert seeds == [sample_seed(9, 0, 0), sample_seed(9, 0, 1)]
    assert candidate.provenance["attempts"] == 2
    assert candidate.provenance["seed"] == seeds[1]


@pytest.mark.parametrize(("kind", "reason"), [("empty", "empty"), ("truncated", "cut off")])
def test_unusable_answer_without_redraws_left_is_bad_model_output(server, kind, reason):
    server.script(Reply(kind))
    generator = generator_for(server, bad_output_retries=0)
    with pytest.raises(BadModelOutput, match=reason) as caught:
        generator.generate(ROUND, n=1, seed=0)
    assert caught.value.raw is not None


def test_one_failing_sample_fails_the_call_after_the_others_finish(server):
    bad_seed = sample_seed(4, 2)
    server.rule = lambda r: Reply("status", status=400) if r.body["seed"] == bad_seed else None
    generator = generator_for(server, retries=0)
    with pytest.raises(BadModelOutput, match="HTTP 400"):
        generator.generate(ROUND, n=4, seed=4)
    assert len(server.requests) == 4


def test_server_down_is_backend_unavailable():
    url = f"http://127.0.0.1:{free_port()}/v1"
    generator = from_config(BackendConfig("vllm", url=url, options={"timeout": 0.5, "retries": 1}))
    generator.client.sleep = SleepRecorder()
    with pytest.raises(BackendUnavailable, match="connection error"):
        generator.generate(ROUND, n=2, seed=0)


def test_api_key_is_sent_as_bearer_token(server):
    generator = generator_for(server, api_key="secret-token")
    generator.generate(ROUND, n=1, seed=0)
    assert server.requests[0].headers["authorization"] == "Bearer secret-token"
    assert "secret-token" not in json.dumps(generator.describe())


def test_without_a_model_name_the_servers_model_is_recorded(server):
    generator = from_config(BackendConfig("vllm", url=server.url))
    [candidate] = generator.generate(ROUND, n=1, seed=0)
    assert "model" not in server.bodies()[0]
    assert candidate.provenance["model"] == "org/mediator-70b"


def test_describe_and_registry(server):
    generator = build_generator(BackendConfig("vllm", url=server.url, model="m", options={}))
    assert isinstance(generator, VLLMGenerator)
    assert isinstance(generator, Generator)
    described = generator.describe()
    assert described["role"] == "generator"
    assert described["backend"] == "vllm"
    assert described["model"] == "m"
    assert "revision" in described


@pytest.mark.parametrize(
    "config",
    [
        BackendConfig("vllm"),
        BackendConfig("vllm", url="  "),
        BackendConfig("vllm", url="ftp://host/v1"),
        BackendConfig("vllm", url="http://h:8000/v1", options={"temprature": 0.5}),
        BackendConfig("vllm", url="http://h:8000/v1", options={"temperature": "hot"}),
        BackendConfig("vllm", url="http://h:8000/v1", options={"endpoint": "responses"}),
        BackendConfig("vllm", url="http://h:8000/v1", options={"template_version": "v9"}),
        BackendConfig("vllm", url="http://h:8000/v1", options={"max_tokens": 0}),
    ],
)
def test_bad_configs_are_config_errors(config):
    with pytest.raises(ConfigError):
        from_config(config)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://gpu:8000", "http://gpu:8000/v1"),
        ("http://gpu:8000/", "http://gpu:8000/v1"),
        ("http://gpu:8000/v1/", "http://gpu:8000/v1"),
        ("http://gpu:8000/v1/chat/completions", "http://gpu:8000/v1"),
        ("https://proxy.example/llm/v1", "https://proxy.example/llm/v1"),
    ],
)
def test_urls_are_normalised_to_the_api_base(url, expected):
    assert normalise_url(url) == expected
