import { CodedError, type ErrorCode, fromZodError } from '../errors.ts';
import type { DecodingMode, Manifest, ThinkingMode } from '../model/manifest.ts';

/**
 * What resolving a request's parameters needs to know of its model: plain data, made once per
 * model on the main thread (src/engine/model-facts.ts) where requests are resolved.
 */

/** Checkpoint-level fallbacks: the manifest's `defaults`, any of them unset. */
export type DecodingDefaults = Partial<Manifest['defaults']>;

export interface ModelFacts {
  /** The model's name, for messages. */
  name: string;
  /** Ids ≥ this are not tokens (padding rows of the embedding matrix). */
  tokenizerVocabSize: number;
  /** `<think>` and `</think>` ids, or null for a checkpoint that does not think. */
  thinkStartId: number | null;
  thinkEndId: number | null;
  /** The manifest's decoding modes. */
  modes: readonly DecodingMode[];
  /** The checkpoint has an n-gram store (superposed decoding's α defaults to 0 without one). */
  hasNgram: boolean;
  /** Most positions of one sequence (prompt, thinking and answer). */
  maxModelLen: number;
  defaults: DecodingDefaults;
}

/** A request's decoding parameters are invalid for this model; `param` names the field at fault. */
export class DecodingParamsError extends CodedError {
  constructor(message: string, param: string | null = null, code: ErrorCode = 'invalid_value') {
    super(code, message, param);
    this.name = 'DecodingParamsError';
  }

  /** The first issue of a failed parse of the parameters' schema. */
  static fromZod(error: Parameters<typeof fromZodError>[0]): DecodingParamsError {
    const e = fromZodError(error);
    return new DecodingParamsError(e.message, e.param, e.code);
  }
}

/** Whether the model has both think markers. */
export function hasThinkMarkers(facts: Pick<ModelFacts, 'thinkStartId' | 'thinkEndId'>): boolean {
  return facts.thinkStartId !== null && facts.thinkEndId !== null;
}

/**
 * The thinking mode of a request: the one it asks for, else the checkpoint's default; `off` on a
 * model without think markers.
 * @throws DecodingParamsError (unsupported_mode) for a mode the checkpoint cannot think in
 */
export function resolveThinkingMode(asked: ThinkingMode | null | undefined, facts: ModelFacts): ThinkingMode {
  if (!hasThinkMarkers(facts)) {
    if (asked && asked !== 'off') {
      throw new DecodingParamsError(
        `thinking.mode "${asked}": the model ${facts.name} has no think markers`,
        'thinking.mode',
        'unsupported_mode',
      );
    }
    return 'off';
  }
  const mode = asked ?? facts.defaults.thinking_mode ?? 'hard';
  if (mode !== 'off' && !facts.modes.includes(mode)) {
    throw new DecodingParamsError(
      `thinking.mode "${mode}" is not supported by ${facts.name} (modes: ${facts.modes.join(', ')})`,
      'thinking.mode',
      'unsupported_mode',
    );
  }
  return mode;
}
