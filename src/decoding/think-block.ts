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
