import { Template } from '@huggingface/jinja';
import { CodedError } from '../errors.ts';

/**
 * The model's chat template (`chat_template` of tokenizer_config.json) rendered with
 * @huggingface/jinja, with the variables Hugging Face's `apply_chat_template` passes. Parsed once
 * when the model loads, so a template the engine cannot parse fails at startup, not per request.
 */

export type ChatTemplateErrorCode =
  /** tokenizer_config.json has no `chat_template` (or not the named one). */
  | 'missing_template'
  /** The template does not parse. */
  | 'template_syntax'
  /** The template refused the conversation through `raise_exception` (e.g. an unknown role). */
  | 'template_rejected'
  /** Rendering failed otherwise (e.g. a message field the template needs is missing). */
  | 'template_error';

/**
 * A chat-template failure; `template_rejected` and `template_error` are the client's fault (HTTP
 * 400 naming `messages`), the others the checkpoint's (the error catalogue, src/errors.ts).
 */
export class ChatTemplateError extends CodedError {
  override readonly name = 'ChatTemplateError';
  declare readonly code: ChatTemplateErrorCode;
  constructor(code: ChatTemplateErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, undefined, options);
  }
}

/** One message as the template sees it; templates may read more fields (`tool_calls`, `name`, ...). */
export interface ChatMessage {
  role: string;
  content: string;
  [field: string]: unknown;
}

export interface RenderOptions {
  /** Append the assistant turn's opening (default true: the prompt the model continues). */
  addGenerationPrompt?: boolean;
  /**
   * Leave the final message open so the model continues it (Hugging Face's
   * `continue_final_message`): the text is cut right after that message's content.
   */
  continueFinalMessage?: boolean;
  /** Passed as `enable_thinking` (default true); false asks the template to skip thinking. */
  enableThinking?: boolean;
  /** Further template variables (`tools`, `documents`, ...). */
  variables?: Record<string, unknown>;
}

/** Variables the renderer sets itself: a request may not pass them as template kwargs. */
export const RESERVED_VARIABLES = ['messages', 'add_generation_prompt', 'raise_exception', 'strftime_now'];

/**
 * transformers' `continue_final_message`: a tag is appended to the final message, the chat is
 * rendered, and the text is cut where the tag appears (then right-stripped when the template did
 * not keep the tag's trailing space), so the model continues the message itself.
 */
const CONTINUE_TAG = 'CONTINUE_FINAL_MESSAGE_TAG ';

function cutAtContinueTag(rendered: string, final: string): string {
  const tag = CONTINUE_TAG.trim();
  const at = rendered.lastIndexOf(tag);
  if (!rendered.includes(final.trim()) || at < 0) {
    throw new ChatTemplateError(
      'template_rejected',
      'continue_final_message is set but the final message does not appear in the rendered chat (the template drops part of it)',
    );
  }
  return rendered.startsWith(CONTINUE_TAG, at) ? rendered.slice(0, at) : rendered.slice(0, at).trimEnd();
}

/** `bos_token` and friends are either a string or an AddedToken-like `{content}` object. */
function tokenString(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && typeof (value as { content?: unknown }).content === 'string') {
    return (value as { content: string }).content;
  }
  return undefined;
}

/** Picks the template source: a string, or the named entry (default `default`) of a list. */
function templateSource(config: Record<string, unknown>, name: string): string {
  const raw = config.chat_template;
  if (typeof raw === 'string' && name === 'default') return raw;
  if (Array.isArray(raw)) {
    const entry = raw.find(
      (t): t is { name: string; template: string } =>
        !!t && typeof t === 'object' && t.name === name && typeof t.template === 'string',
    );
    if (entry) return entry.template;
  }
  throw new ChatTemplateError(
    'missing_template',
    `tokenizer_config.json: no chat_template${name === 'default' ? '' : ` named ${name}`}`,
  );
}

/** Marks errors thrown by the template's own `raise_exception`, to tell them from engine bugs. */
class RaisedByTemplate extends Error {}

/**
 * The library declares `raise_exception` itself and refuses a second declaration, but a template
 * `set` may rebind it; this prefix (no output, no whitespace control) points it at our function.
 */
const RAISE_VARIABLE = '__reverie_raise_exception';
const RAISE_PREFIX = `{% set raise_exception = ${RAISE_VARIABLE} %}`;

/**
 * @example
 * const template = ChatTemplate.fromTokenizerConfig(checkpoint.tokenizerConfig);
 * const prompt = template.render([{ role: 'user', content: 'hi' }], { enableThinking: false });
 */
export class ChatTemplate {
  readonly #template: Template;
  readonly #specials: Record<string, string>;
  /** The template's text (the API reads which tool-call syntax it writes). */
  readonly source: string;

  private constructor(template: Template, specials: Record<string, string>, source: string) {
    this.#template = template;
    this.#specials = specials;
    this.source = source;
  }

  /**
   * Builds the template from a parsed tokenizer_config.json.
   * @param name which template of a named list (`default`, `tool_use`, ...)
   * @throws ChatTemplateError `missing_template` or `template_syntax`
   */
  static fromTokenizerConfig(config: Record<string, unknown>, name = 'default'): ChatTemplate {
    const source = templateSource(config, name);
    let template: Template;
    try {
      template = new Template(RAISE_PREFIX + source);
    } catch (err) {
      throw new ChatTemplateError(
        'template_syntax',
        `tokenizer_config.json: chat_template does not parse: ${(err as Error).message}`,
        { cause: err },
      );
    }
    const specials: Record<string, string> = {};
    for (const key of ['bos_token', 'eos_token', 'pad_token', 'unk_token']) {
      const value = tokenString(config[key]);
      if (value !== undefined) specials[key] = value;
    }
    return new ChatTemplate(template, specials, source);
  }

  /**
   * Renders a conversation to the prompt string (encode it with `specialTokens: true`).
   * @throws ChatTemplateError `template_rejected` or `template_error`
   */
  render(messages: readonly ChatMessage[], options: RenderOptions = {}): string {
    const raise = (message: unknown): never => {
      throw new RaisedByTemplate(String(message));
    };
    const continueFinal = options.continueFinalMessage ?? false;
    const final = messages.at(-1)?.content ?? '';
    const shown = continueFinal
      ? [...messages.slice(0, -1), { ...messages.at(-1)!, content: final + CONTINUE_TAG }]
      : messages;
    let rendered: string;
    try {
      rendered = this.#template.render({
        ...this.#specials,
        enable_thinking: options.enableThinking ?? true,
        ...options.variables,
        messages: shown,
        add_generation_prompt: continueFinal ? false : (options.addGenerationPrompt ?? true),
        [RAISE_VARIABLE]: raise,
      });
    } catch (err) {
      if (err instanceof RaisedByTemplate) {
        throw new ChatTemplateError(
          'template_rejected',
          `chat template rejected the messages: ${err.message}`,
        );
      }
      throw new ChatTemplateError('template_error', `chat template failed: ${(err as Error).message}`, {
        cause: err,
      });
    }
    return continueFinal ? cutAtContinueTag(rendered, final) : rendered;
  }
}
