"""Byte-level tokenizer of reverie's own checkpoints (see models/README.md).

Ids 0-255 are the 256 bytes in GPT-2 byte-to-unicode order (so the BPE vocab with no merges maps
the unicode character of byte b to id b), specials from 256.
"""
import json
import os

ENDOFTEXT, IM_START, IM_END, THINK, END_THINK = 256, 257, 258, 259, 260
SPECIALS = {
    "<|endoftext|>": ENDOFTEXT,
    "<|im_start|>": IM_START,
    "<|im_end|>": IM_END,
    "<think>": THINK,
    "</think>": END_THINK,
}
NUM_TOKENS = 261
VOCAB_SIZE = 264  # config.json vocab_size: padded to a multiple of 8

CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' -}}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}"
    "{%- if enable_thinking is defined and enable_thinking is false -%}"
    "{{- '<|im_start|>assistant\\n<think></think>' -}}"
    "{%- else -%}"
    "{{- '<|im_start|>assistant\\n<think>' -}}"
    "{%- endif -%}"
    "{%- endif -%}"
)


def bytes_to_unicode():
    """GPT-2's reversible byte -> printable unicode character table, in GPT-2's order."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def encode(text):
    """Text (which may contain special-token strings) -> token ids."""
    ids = []
    i = 0
    while i < len(text):
        for name, tid in SPECIALS.items():
            if text.startswith(name, i):
                ids.append(tid)
                i += len(name)
                break
        else:
            j = i
            while j < len(text) and not any(text.startswith(n, j) for n in SPECIALS):
                j += 1
            ids.extend(text[i:j].encode("utf-8"))
            i = j
    return ids


def decode(ids, skip_special=False):
    names = {v: k for k, v in SPECIALS.items()}
    out, buf = [], bytearray()
    for t in ids:
        if t < 256:
            buf.append(t)
            continue
        out.append(buf.decode("utf-8", errors="replace"))
        buf = bytearray()
        if not skip_special:
            out.append(names.get(t, ""))
    out.append(buf.decode("utf-8", errors="replace"))
    return "".join(out)


def prompt_text(question):
    """The rendered chat template for one user turn with the generation prompt (ends in <think>)."""
    return f"<|im_start|>user\n{question}<|im_end|>\n<|im_start|>assistant\n<think>"


def training_text(question, cot, answer):
    return prompt_text(question) + f"{cot}</think>{answer}<|im_end|>"


def tokenizer_json():
    byte_chars = bytes_to_unicode()
    vocab = {byte_chars[b]: b for b in range(256)}
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {"id": tid, "content": name, "single_word": False, "lstrip": False, "rstrip": False,
             "normalized": False, "special": True}
            for name, tid in SPECIALS.items()
        ],
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False},
        "post_processor": None,
        "decoder": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
                  "ignore_merges": False, "vocab": vocab, "merges": []},
    }


def tokenizer_config_json():
    return {
        "added_tokens_decoder": {
            str(tid): {"content": name, "lstrip": False, "normalized": False, "rstrip": False,
                       "single_word": False, "special": True}
            for name, tid in SPECIALS.items()
        },
        "bos_token": None,
        "eos_token": "<|im_end|>",
        "pad_token": "<|endoftext|>",
        "unk_token": None,
        "model_max_length": 512,
        "clean_up_tokenization_spaces": False,
        "tokenizer_class": "PreTrainedTokenizerFast",
        "chat_template": CHAT_TEMPLATE,
    }


def write_tokenizer(folder):
    """Writes the tokenizer and generation config files into `folder`; returns their names."""
    files = {
        "tokenizer.json": tokenizer_json(),
        "tokenizer_config.json": tokenizer_config_json(),
        "generation_config.json": {"eos_token_id": [IM_END, ENDOFTEXT], "pad_token_id": ENDOFTEXT,
                                   "do_sample": False},
    }
    for name, obj in files.items():
        with open(os.path.join(folder, name), "w", encoding="utf-8") as f:
            json.dump(obj, f, ensure_ascii=False, indent=1)
            f.write("\n")
    return list(files)
