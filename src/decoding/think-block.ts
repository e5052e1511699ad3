import type { ThinkingMode } from './params.ts';

/**
 * Where think blocks open and close, decided on token ids (text can hide a marker split across
 * tokens, or show one that is not the marker token).
 */

/**
 * Whether a prompt ends inside an open think block: its last think-start marker has no end marker
 * after it (`…<think>`, `…<think>\n` as DeepSeek-R1's template ends, or a prefilled partial
 * thought). This is vLLM's `is_reasoning_end`, read backwards from the prompt's end.
 */
export function opensThinkBlock(
  promptIds: ArrayLike<number>,
  startId: number | null | undefined,
  endId: number | null | undefined,
): boolean {
  if (startId == null || endId == null) return false;
  for (let i = promptIds.length - 1; i >= 0; i--) {
    if (promptIds[i] === endId) return false;
    if (promptIds[i] === startId) return true;
  }
  return false;
}

/**
 * Positions a request's thinking may take beyond its answer: the thinking budget plus the markers
 * generated. A prompt that opened the block adds the end marker; a model that may open the block
 * itself (it has markers and the prompt left the block closed) adds its start marker too. Mode
 * 'off' thinks nothing but still closes a block that opens.
 */
export function thinkingReserve(options: {
  startsInThinking: boolean;
  /** The model can open a block itself: it has think markers and the answer is not superposed. */
  mayOpen: boolean;
  mode: ThinkingMode;
  maxTokens: number;
}): number {
  const { startsInThinking, mayOpen, mode, maxTokens } = options;
  if (!startsInThinking && !mayOpen) return 0;
  const markers = startsInThinking ? 1 : 2;
  return mode === 'off' ? markers : maxTokens + markers;
}
