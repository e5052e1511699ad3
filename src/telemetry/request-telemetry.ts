import {
  type Attributes,
  type Context,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import type { EngineEvent, GenerateRequest } from '../engine/types.ts';
import { GEN_AI, PROVIDER, REVERIE } from './names.ts';
import type { ServerMetrics } from './server-metrics.ts';

/**
 * One request's telemetry: its SERVER span (when tracing is on) and its metrics. The API creates
 * it on arrival, tells it what was submitted, passes every engine event through `event`, and ends
 * it with `fail` or `cancelled` unless a `done` event ended it. Phases (queue, prefill, thinking,
 * answer) become child spans once the request is over, from the engine's timings and the times
 * this object saw the events.
 */

/** `gen_ai.operation.name` values reverie serves. */
export type GenAiOperation = 'chat' | 'text_completion';

/** The mode the request thinks in: none unless its prompt opens the thinking block. */
function thinkingModeOf(request: GenerateRequest): string {
  return request.startsInThinking ? (request.params.thinking?.mode ?? 'off') : 'off';
}

/** Wall-clock milliseconds, sub-millisecond precise (span times and durations share one clock). */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

/** What telemetry reads of a request's output (the API's one accumulator, src/api/common/output.ts). */
export interface ObservedOutput {
  readonly choices: readonly {
    finishReason: string | null;
    usage: { completionTokens: number; thinkingSteps: number } | null;
  }[];
  /** Choice `i`'s finish as the response reports it (`tool_calls` after calls, as the API says). */
  finishReason(i: number): string | null;
}

export class RequestTelemetry {
  readonly #metrics: ServerMetrics;
  readonly #tracer: Tracer | null;
  readonly #span: Span | null;
  readonly #operation: GenAiOperation;
  readonly #arrivedAt: number;
  #request: GenerateRequest | null = null;
  #submittedAt = 0;
  #firstTokenAt: number | null = null;
  #firstAnswerAt: number | null = null;
  #lastTokenAt: number | null = null;
  #ended = false;

  constructor(
    metrics: ServerMetrics,
    tracer: Tracer | null,
    operation: GenAiOperation,
    parent: Context,
    attributes: Attributes = {},
    arrivedAt = nowMs(),
  ) {
    this.#metrics = metrics;
    this.#tracer = tracer;
    this.#operation = operation;
    this.#arrivedAt = arrivedAt;
    this.#span =
      tracer?.startSpan(
        operation,
        {
          kind: SpanKind.SERVER,
          startTime: arrivedAt,
          attributes: { [GEN_AI.operation]: operation, [GEN_AI.provider]: PROVIDER, ...attributes },
        },
        parent,
      ) ?? null;
  }

  /** The request's span, or null when tracing is off. */
  get span(): Span | null {
    return this.#span;
  }

  /** The validated request went to the engine. */
  submitted(request: GenerateRequest, stream: boolean): void {
    this.#request = request;
    this.#submittedAt = nowMs();
    const span = this.#span;
    if (!span) return;
    const p = request.params;
    const drafts = p.superposition?.drafts ?? 0;
    span.updateName(`${this.#operation} ${request.model}`);
    const attributes: Attributes = {
      [GEN_AI.requestModel]: request.model,
      [GEN_AI.stream]: stream,
      [GEN_AI.choiceCount]: drafts || (p.n ?? 1),
      [REVERIE.thinkingMode]: thinkingModeOf(request),
      [REVERIE.drafts]: drafts,
    };
    const optional: [string, number | undefined | null][] = [
      [GEN_AI.maxTokens, p.max_tokens],
      [GEN_AI.temperature, p.temperature],
      [GEN_AI.topP, p.top_p],
      [GEN_AI.topK, p.top_k],
      [GEN_AI.seed, p.seed],
      [GEN_AI.presencePenalty, p.presence_penalty],
      [GEN_AI.frequencyPenalty, p.frequency_penalty],
    ];
    for (const [key, value] of optional) if (value != null) attributes[key] = value;
    span.setAttributes(attributes);
  }

  /**
   * Every engine event of the request, in order, as the API receives it, with the request's
   * output after it (per-choice finish reasons and usage are read from there).
   */
  event(ev: EngineEvent, output: ObservedOutput, at = nowMs()): void {
    if (this.#ended) return;
    switch (ev.type) {
      case 'scheduled':
        this.#span?.addEvent('scheduled', at);
        return;
      case 'reasoning':
      case 'content':
      case 'drafts': {
        if (this.#firstTokenAt === null) {
          this.#firstTokenAt = at;
          this.#span?.addEvent('first_token', at);
        } else if (this.#lastTokenAt !== null) {
          this.#metrics.interToken(this.#request?.model ?? 'unknown', (at - this.#lastTokenAt) / 1000);
        }
        this.#lastTokenAt = at;
        if (ev.type !== 'reasoning' && this.#firstAnswerAt === null) this.#firstAnswerAt = at;
        return;
      }
      case 'done':
        this.#done(ev, output, at);
        return;
      case 'error':
        this.fail(ev.error.code, ev.error.message, at);
        return;
    }
  }

  /** The request failed: refused, invalid, or an engine error. `errorType` is low-cardinality. */
  fail(errorType: string, message: string, at = nowMs()): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#metrics.failed(
      this.#request?.model ?? null,
      errorType,
      this.#metricAttributes(),
      (at - this.#arrivedAt) / 1000,
    );
    const span = this.#span;
    if (!span) return;
    span.setAttribute(GEN_AI.errorType, errorType);
    span.setStatus({ code: SpanStatusCode.ERROR, message });
    span.end(at);
  }

  /** The client went away before the end. */
  cancelled(at = nowMs()): void {
    this.fail('cancelled', 'the client cancelled the request', at);
  }

  #metricAttributes(): Attributes {
    const model = this.#request?.model;
    return {
      [GEN_AI.operation]: this.#operation,
      [GEN_AI.provider]: PROVIDER,
      ...(model && { [GEN_AI.requestModel]: model, [GEN_AI.responseModel]: model }),
    };
  }

  #done(ev: Extract<EngineEvent, { type: 'done' }>, output: ObservedOutput, at: number): void {
    this.#ended = true;
    const request = this.#request!;
    const choices = output.choices.flatMap((c, i) =>
      c.finishReason && c.usage
        ? [
            {
              reason: output.finishReason(i) ?? c.finishReason,
              outputs: c.usage.completionTokens,
              thinkingSteps: c.usage.thinkingSteps,
            },
          ]
        : [],
    );
    const drafts = request.params.superposition?.drafts ?? 0;
    // Superposed drafts share one sequence: its positions are counted once, not once per draft.
    const perSequence = choices.map((c) => c.outputs);
    const positions = Math.max(0, ...perSequence);
    // Superposed drafts share one thinking phase, reported by the first draft only.
    const thinkingSteps = choices.reduce((s, c) => s + c.thinkingSteps, 0);
    const ttftS = this.#firstTokenAt === null ? null : (this.#firstTokenAt - this.#arrivedAt) / 1000;
    const tpotS =
      this.#firstTokenAt !== null && positions > 1
        ? (at - this.#firstTokenAt) / 1000 / (positions - 1)
        : null;
    const mode = thinkingModeOf(request);
    const reasons = choices.map((c) => c.reason);
    this.#metrics.finished({
      attributes: this.#metricAttributes(),
      model: request.model,
      durationS: (at - this.#arrivedAt) / 1000,
      queueS: ev.timings.queueMs / 1000,
      ttftS,
      tpotS,
      promptTokens: ev.usage.promptTokens,
      cachedTokens: ev.usage.cachedTokens,
      outputTokens: ev.usage.completionTokens,
      reasoningTokens: ev.usage.reasoningTokens,
      thinkingMode: mode,
      thinkingSteps,
      drafts,
      finishReasons: reasons,
    });
    const span = this.#span;
    if (!span) return;
    span.setAttributes({
      [GEN_AI.responseId]: request.id,
      [GEN_AI.responseModel]: request.model,
      [GEN_AI.finishReasons]: reasons,
      [GEN_AI.inputTokens]: ev.usage.promptTokens,
      [GEN_AI.outputTokens]: ev.usage.completionTokens,
      [GEN_AI.reasoningTokens]: ev.usage.reasoningTokens,
      [GEN_AI.cachedInputTokens]: ev.usage.cachedTokens,
      [REVERIE.thinkingSteps]: thinkingSteps,
      [REVERIE.queueTimeMs]: ev.timings.queueMs,
      [REVERIE.prefillTimeMs]: ev.timings.prefillMs,
      [REVERIE.preempted]: ev.preemptions > 0,
      [REVERIE.preemptions]: ev.preemptions,
    });
    if (ttftS !== null) {
      span.setAttributes({
        [GEN_AI.timeToFirstChunk]: ttftS,
        [REVERIE.timeToFirstTokenMs]: ttftS * 1000,
      });
    }
    this.#phases(ev.timings, choices, at);
    span.end(at);
  }

  /**
   * Child spans for the phases. The engine's timings are durations from its own submission clock
   * (a worker thread's), so they are laid out from the time the API submitted the request.
   */
  #phases(
    t: Extract<EngineEvent, { type: 'done' }>['timings'],
    choices: readonly { thinkingSteps: number }[],
    end: number,
  ): void {
    const tracer = this.#tracer!;
    const parent = this.#span!;
    const ctx = trace.setSpan(ROOT_CONTEXT, parent);
    const child = (name: string, from: number, to: number) => {
      if (to >= from) tracer.startSpan(name, { kind: SpanKind.INTERNAL, startTime: from }, ctx).end(to);
    };
    const queuedUntil = Math.min(this.#submittedAt + t.queueMs, end);
    const prefilledUntil = Math.min(queuedUntil + t.prefillMs, end);
    child('queue', this.#submittedAt, queuedUntil);
    child('prefill', queuedUntil, prefilledUntil);
    const answerFrom = this.#firstAnswerAt ?? end;
    const thought = choices.some((c) => c.thinkingSteps > 0);
    if (thought) child('thinking', prefilledUntil, Math.max(prefilledUntil, answerFrom));
    child('answer', thought ? Math.max(prefilledUntil, answerFrom) : prefilledUntil, end);
  }
}
