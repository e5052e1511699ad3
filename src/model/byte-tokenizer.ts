import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * reverie's own tokenizer for the small models it makes (see models/README.md, "Conventions"):
 * byte-level BPE with no merges, so id `b` is byte `b` and any text round-trips, plus five
 * special tokens from id 256. The Python trainer writes the same two files independently, so the
 * layout is deliberately plain and its serialisation pinned: JSON with two-space indent, no ASCII
 * escaping, keys in the order written here, vocab in id order, and a trailing newline (Python:
 * `json.dumps(obj, indent=2, ensure_ascii=False) + "\n"`).
 */

export const ENDOFTEXT_ID = 256;
export const IM_START_ID = 257;
export const IM_END_ID = 258;
export const THINK_START_ID = 259;
export const THINK_END_ID = 260;

/** Special tokens in id order (id = 256 + index). */
export const BYTE_SPECIAL_TOKENS = [
  '<|endoftext|>',
  '<|im_start|>',
  '<|im_end|>',
  '<think>',
  '</think>',
] as const;

/** Vocabulary size: 256 bytes + 5 specials. */
export const BYTE_VOCAB_SIZE = 256 + BYTE_SPECIAL_TOKENS.length;

/** `eos_token_id` of reverie's small models: end of turn, then end of text. */
export const BYTE_EOS_TOKEN_IDS: readonly number[] = [IM_END_ID, ENDOFTEXT_ID];

/**
 * ChatML. The generation prompt opens a think block at once so the model starts thinking;
 * `enable_thinking=false` renders an empty block instead (the Qwen3 convention). Written on one
 * line so the two writers cannot disagree about whitespace; `\n` here is Jinja's string escape.
 * Unknown roles are rejected through `raise_exception` rather than rendered silently.
 */
export const BYTE_CHAT_TEMPLATE =
  '{%- for message in messages -%}' +
  "{%- if message['role'] not in ['system', 'user', 'assistant'] -%}" +
  "{{- raise_exception('unsupported role: ' + message['role']) -}}" +
  '{%- endif -%}' +
  "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' -}}" +
  '{%- endfor -%}' +
  '{%- if add_generation_prompt -%}' +
  "{{- '<|im_start|>assistant\\n' -}}" +
  "{%- if enable_thinking is defined and enable_thinking is false -%}{{- '<think></think>' -}}" +
  "{%- else -%}{{- '<think>' -}}{%- endif -%}" +
  '{%- endif -%}';

/**
 * GPT-2's byte-to-unicode table: printable bytes stand for themselves, the others are shifted to
 * U+0100 onwards so every byte is one visible character (what the ByteLevel pre-tokenizer emits).
 */
export function byteToUnicode(): string[] {
  const table = new Array<string>(256);
  let shifted = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    table[b] = String.fromCodePoint(printable ? b : 256 + shifted++);
  }
  return table;
}

function addedToken(content: string, id: number) {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
}

const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false };

/** The `tokenizer.json` text. */
export function byteTokenizerJson(): string {
  const placeholder = '@@VOCAB@@';
  const doc = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: BYTE_SPECIAL_TOKENS.map((t, i) => addedToken(t, 256 + i)),
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: null,
    decoder: byteLevel,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab: placeholder,
      merges: [],
    },
  };
  // A JS object would list the digit keys "0".."9" first; the vocab must stay in id order.
  const entries = byteToUnicode().map((ch, id) => `      ${JSON.stringify(ch)}: ${id}`);
  const vocab = `{\n${entries.join(',\n')}\n    }`;
  return `${JSON.stringify(doc, null, 2).replace(JSON.stringify(placeholder), vocab)}\n`;
}

/** The `tokenizer_config.json` text (special tokens, eos, ChatML template). */
export function byteTokenizerConfigJson(): string {
  const doc = {
    // transformers writes these entries with alphabetically sorted keys.
    added_tokens_decoder: Object.fromEntries(
      BYTE_SPECIAL_TOKENS.map((t, i) => [
        String(256 + i),
        { content: t, lstrip: false, normalized: false, rstrip: false, single_word: false, special: true },
      ]),
    ),
    additional_special_tokens: BYTE_SPECIAL_TOKENS.slice(1),
    bos_token: null,
    chat_template: BYTE_CHAT_TEMPLATE,
    clean_up_tokenization_spaces: false,
    eos_token: '<|im_end|>',
    pad_token: '<|endoftext|>',
    tokenizer_class: 'PreTrainedTokenizerFast',
    unk_token: null,
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

/**
 * Writes `tokenizer.json` and `tokenizer_config.json` into `dir` (which must exist).
 *
 * @example
 * await writeByteTokenizerFiles('models/reverie-tiny-test');
 */
export async function writeByteTokenizerFiles(dir: string): Promise<void> {
  await writeFile(join(dir, 'tokenizer.json'), byteTokenizerJson());
  await writeFile(join(dir, 'tokenizer_config.json'), byteTokenizerConfigJson());
}
