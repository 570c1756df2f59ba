"""The LoRA recipe runs end to end on a tiny model the test builds itself (a random 2-layer
LLaMA and a word-level tokenizer with a chat template: nothing is downloaded), and leaves an
adapter peft loads back onto the base."""

import json

import pytest

from inference.training.lora import ADAPTER_METADATA, PRESETS, main

CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|> {{ m['content'] }} <|end|> {% endfor %}"
    "{% if add_generation_prompt %}<|assistant|> {% endif %}"
)


def tiny_model(folder, texts):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    specials = ["<unk>", "<pad>", "<|end|>", "<|system|>", "<|user|>", "<|assistant|>"]
    raw = Tokenizer(models.WordLevel(unk_token="<unk>"))
    raw.pre_tokenizer = pre_tokenizers.Whitespace()
    raw.train_from_iterator(texts, trainers.WordLevelTrainer(special_tokens=specials))
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=raw, unk_token="<unk>", pad_token="<pad>", eos_token="<|end|>"
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    config = LlamaConfig(
        vocab_size=raw.get_vocab_size(),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.mark.slow
def test_lora_recipe_trains_a_tiny_model_and_saves_an_adapter(tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    records = [
        {
            "messages": [
                {"role": "system", "content": "You are a neutral mediator ."},
                {"role": "user", "content": f"Question : should we act on item {i} ?"},
                {
                    "role": "assistant",
                    "content": "<statement> We agree to act carefully . </statement>",
                },  # fmt: skip
            ],
            "metadata": {"statement_id": i},
        }
        for i in range(12)
    ]
    data = tmp_path / "sft.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in records))
    texts = [m["content"] for r in records for m in r["messages"]]
    base = tiny_model(tmp_path / "base", texts)
    out = tmp_path / "adapter"
    assert main(["--base", str(base), "--data", str(data), "--out", str(out),
                 "--preset", "small", "--max-steps", "6"]) == 0  # fmt: skip
    record = json.loads((out / ADAPTER_METADATA).read_text())
    assert record["steps"] == 6 and record["examples"]["train"] == 12
    assert record["loss_last"] < record["loss_first"]
    adapter = json.loads((out / "adapter_config.json").read_text())
    assert adapter["r"] == PRESETS["small"].rank
    assert set(adapter["target_modules"]) == set(PRESETS["small"].target_modules)
    assert (out / "adapter_model.safetensors").exists()
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base), out)
    assert any("lora_A" in name for name, _ in model.named_parameters())


def test_the_70b_preset_is_the_documented_configuration():
    recipe = PRESETS["70b"]
    assert (recipe.rank, recipe.alpha, recipe.bf16, recipe.gradient_checkpointing) == (
        16,
        32,
        True,
        True,
    )
    assert set(recipe.target_modules) >= {"q_proj", "v_proj", "down_proj"}
    assert recipe.eval_fraction > 0 and recipe.early_stopping_patience >= 1


def test_an_empty_data_file_is_refused(tmp_path, capsys):
    data = tmp_path / "empty.jsonl"
    data.write_text("")
    base = tmp_path / "nowhere"
    assert main(["--base", str(base), "--data", str(data), "--out", str(tmp_path / "o")]) == 1
    assert "error:" in capsys.readouterr().err
