import type {
  ChoiceUsage,
  EngineEvent,
  FinishReason,
  RequestTimings,
  RequestUsage,
  StepTrace,
  TokenLogprob,
} from '../../engine/types.ts';
import type { DeltaToolCall, ToolCall } from '../tool-calls/types.ts';

/**
 * The one per-choice accumulator of a request's output. Every endpoint (chat and completions,
 * JSON and SSE), the WebSocket and the request's telemetry read the same accumulator: it keeps
 * each choice's state and turns each engine event into the changes a client may see
 * ({@link OutputDelta}), which each endpoint's chunk mapper (chunk-mapper.ts) renders.
 *
 * Two seams for what comes next: a choice's answer text goes through a {@link ContentStream}
 * (a tool-call parser holds markup back and emits calls instead, src/api/tool-calls/), and a
 * mapper for another protocol (the Responses API) is one more `ChunkMapper` over these deltas.
 */

/** What a content stream makes of a piece of answer text: text to show, tool-call pieces, or nothing yet. */
export interface ContentDelta {
  content?: string;
  toolCalls?: DeltaToolCall[];
}

/**
 * Turns one choice's answer text into what the client sees. The default passes it through; a
 * tool-call parser's stream (`ToolCallStream`) has this shape.
 */
export interface ContentStream {
  push(text: string): ContentDelta;
  /** At the choice's end: whatever was held back. */
  finish(): ContentDelta;
}

/** Everything one choice produced so far. */
export interface ChoiceOutput {
  index: number;
  /** Answer text as shown (what the content stream let through). */
  content: string;
  reasoning: string;
  /** Thinking positions reported so far (the running usage; the finish's usage is exact). */
  reasoningTokens: number;
  trace: StepTrace[];
  logprobs: TokenLogprob[];
  /** Answer token ids (EOS excluded). */
  tokenIds: number[];
  /** Tool-call pieces in the order they were streamed. */
  toolCalls: DeltaToolCall[];
  finishReason: FinishReason | null;
  usage: ChoiceUsage | null;
}

/** One change a client may see, in the order the engine made it (an engine event, as shown). */
export type OutputDelta =
  | Extract<EngineEvent, { type: 'reasoning' | 'finish' | 'done' }>
  /** The answer text the content stream let through, and the tool-call pieces it found. */
  | (Extract<EngineEvent, { type: 'content' }> & { toolCalls?: DeltaToolCall[] })
  /** Superposed decoding: every draft after an answer step (`step` counts them from 1). */
  | (Extract<EngineEvent, { type: 'drafts' }> & { step: number });

export interface OutputOptions {
  /** Choices the response holds (n, or the superposed drafts); an event naming another adds it. */
  choices: number;
  /** Superposed drafts share one thinking phase, reported on choice 0: every choice gets it at the end. */
  shareReasoning: boolean;
  /** Each choice's content stream; default: the text as it is. */
  contentStream?: (choice: number) => ContentStream;
}

/** A choice's finish as the APIs report it: `tool_calls` when it stopped after calling tools (cut short: still `length`). */
export function shownFinishReason(
  choice: Pick<ChoiceOutput, 'toolCalls' | 'finishReason'>,
  reason: FinishReason | null = choice.finishReason,
): FinishReason | 'tool_calls' | null {
  return reason === 'stop' && choice.toolCalls.length > 0 ? 'tool_calls' : reason;
}

/** A choice's calls, whole: the streamed pieces joined (the JSON and the stream agree by construction). */
export function joinToolCalls(pieces: readonly DeltaToolCall[]): ToolCall[] {
  const calls: ToolCall[] = [];
  for (const p of pieces) {
    const call = (calls[p.index] ??= {
      id: p.id ?? '',
      type: 'function',
      function: { name: p.function?.name ?? '', arguments: '' },
    });
    call.function.arguments += p.function?.arguments ?? '';
  }
  return calls;
}

const PASS_THROUGH: ContentStream = { push: (content) => ({ content }), finish: () => ({}) };

function emptyChoice(index: number): ChoiceOutput {
  return {
    index,
    content: '',
    reasoning: '',
    reasoningTokens: 0,
    trace: [],
    logprobs: [],
    tokenIds: [],
    toolCalls: [],
    finishReason: null,
    usage: null,
  };
}

export class OutputAccumulator {
  readonly choices: ChoiceOutput[];
  usage: RequestUsage | null = null;
  timings: RequestTimings | null = null;
  preemptions = 0;
  /** Superposed decoding: answer steps whose drafts were reported. */
  draftSteps = 0;
  readonly #options: OutputOptions;
  readonly #streams = new Map<number, ContentStream>();

  constructor(options: OutputOptions) {
    this.#options = options;
    this.choices = Array.from({ length: options.choices }, (_, i) => emptyChoice(i));
  }

  /** Choice `i`'s finish as the response reports it (telemetry reads it): see {@link shownFinishReason}. */
  finishReason(i: number): FinishReason | 'tool_calls' | null {
    const c = this.choices[i];
    return c ? shownFinishReason(c) : null;
  }

  /** Whether the request finished (a `done` event arrived). */
  get done(): boolean {
    return this.usage !== null;
  }

  /** Takes one engine event; returns what it changed that a client may see (`error`: nothing, the caller handles it). */
  push(ev: EngineEvent): OutputDelta[] {
    switch (ev.type) {
      case 'reasoning': {
        const c = this.#at(ev.choice);
        c.reasoning += ev.text;
        c.reasoningTokens += ev.tokens ?? 0;
        if (ev.trace) c.trace.push(ev.trace);
        return ev.text || ev.trace ? [ev] : [];
      }
      case 'content': {
        const c = this.#at(ev.choice);
        c.tokenIds.push(...ev.tokenIds);
        if (ev.logprobs) c.logprobs.push(...ev.logprobs);
        const shown = this.#stream(ev.choice).push(ev.text);
        const delta = this.#content(c, shown, ev.tokenIds, ev.logprobs);
        return delta ? [delta] : [];
      }
      case 'drafts':
        this.draftSteps++;
        return [{ type: 'drafts', choice: ev.choice, step: this.draftSteps, drafts: ev.drafts }];
      case 'finish': {
        const c = this.#at(ev.choice);
        const held = this.#content(c, this.#stream(ev.choice).finish(), [], undefined);
        c.finishReason = ev.reason;
        c.usage = ev.usage;
        const finish: OutputDelta = { type: 'finish', choice: ev.choice, reason: ev.reason, usage: ev.usage };
        return held ? [held, finish] : [finish];
      }
      case 'done':
        this.usage = ev.usage;
        this.timings = ev.timings;
        this.preemptions = ev.preemptions;
        if (this.#options.shareReasoning) this.#shareReasoning();
        return [ev];
      default:
        return [];
    }
  }

  /**
   * The request's usage so far (vLLM's `continuous_usage_stats`): a finished choice counts what
   * its finish reported, a running one its answer tokens and thinking positions so far.
   */
  usageSoFar(promptTokens: number): RequestUsage {
    if (this.usage) return this.usage;
    let completionTokens = 0;
    let reasoningTokens = 0;
    for (const c of this.choices) {
      completionTokens += c.usage?.completionTokens ?? c.tokenIds.length + c.reasoningTokens;
      reasoningTokens += c.usage?.reasoningTokens ?? c.reasoningTokens;
    }
    return { promptTokens, completionTokens, reasoningTokens, cachedTokens: 0 };
  }

  #at(i: number): ChoiceOutput {
    while (this.choices.length <= i) this.choices.push(emptyChoice(this.choices.length));
    return this.choices[i]!;
  }

  #stream(choice: number): ContentStream {
    let s = this.#streams.get(choice);
    if (!s) {
      s = this.#options.contentStream?.(choice) ?? PASS_THROUGH;
      this.#streams.set(choice, s);
    }
    return s;
  }

  /** Records what the content stream let through; the delta, or null when there is nothing to show. */
  #content(
    c: ChoiceOutput,
    shown: ContentDelta,
    tokenIds: number[],
    logprobs: TokenLogprob[] | undefined,
  ): OutputDelta | null {
    const text = shown.content ?? '';
    c.content += text;
    if (shown.toolCalls?.length) c.toolCalls.push(...shown.toolCalls);
    if (!text && !logprobs?.length && !shown.toolCalls?.length) return null;
    return {
      type: 'content',
      choice: c.index,
      text,
      tokenIds,
      ...(logprobs && { logprobs }),
      ...(shown.toolCalls?.length && { toolCalls: shown.toolCalls }),
    };
  }

  #shareReasoning(): void {
    const first = this.choices[0]!;
    for (const c of this.choices.slice(1)) {
      if (!c.reasoning) c.reasoning = first.reasoning;
      if (c.trace.length === 0) c.trace = first.trace;
    }
  }
}
