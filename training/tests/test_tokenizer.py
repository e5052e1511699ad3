import pytest

from training import tokenizer as tok


def test_round_trip_and_specials():
    text = tok.training_text("Compute 1+2. é", "1+2+0=3", "3")
    ids = tok.encode(text)
    assert tok.decode(ids) == text
    assert ids[0] == 257 and ids[-1] == 258 and 259 in ids and 260 in ids
    assert tok.encode("<|endoftext|>") == [256] and tok.encode("A") == [65]
    assert tok.decode(tok.encode("x<think>y</think>z"), skip_special=True) == "xyz"


def test_tokenizer_json_byte_level_vocab():
    j = tok.tokenizer_json()
    vocab = j["model"]["vocab"]
    assert len(vocab) == 256 and j["model"]["merges"] == []
    assert vocab["A"] == 65 and vocab["Ġ"] == 32 and vocab["Ċ"] == 10  # GPT-2 byte-to-unicode
    assert sorted(vocab.values()) == list(range(256))
    assert {t["content"]: t["id"] for t in j["added_tokens"]} == tok.SPECIALS
    assert all(t["special"] for t in j["added_tokens"])
    for part in ("pre_tokenizer", "decoder"):
        assert j[part]["type"] == "ByteLevel" and j[part]["add_prefix_space"] is False and j[part]["use_regex"] is False


def test_chat_template_renders_the_training_prompt():
    jinja2 = pytest.importorskip("jinja2")
    t = jinja2.Template(tok.CHAT_TEMPLATE)
    msgs = [{"role": "user", "content": "Compute 1+2."}]
    assert t.render(messages=msgs, add_generation_prompt=True) == tok.prompt_text("Compute 1+2.")
    assert t.render(messages=msgs, add_generation_prompt=True, enable_thinking=False).endswith("<think></think>")


def test_chat_template_text():
    assert "<|im_start|>assistant\\n<think>" in tok.CHAT_TEMPLATE
    assert "<think></think>" in tok.CHAT_TEMPLATE and "enable_thinking" in tok.CHAT_TEMPLATE
