/**
 * The thinking modes `reverie eval` compares and the request each sends, as in "Soft Tokens,
 * Hard Truths" (soft-thinking.md: inference modes) and the trainer (training/rollout.py):
 *
 * | mode   | greedy (pass@1)                        | sampled (pass@k)                                  |
 * |--------|----------------------------------------|---------------------------------------------------|
 * | hard   | argmax thinking tokens (τ 0)           | thinking tokens at τ 1                            |
 * | soft   | mixture at τ 0.5, no noise             | mixture at τ 0.5 + Gaussian noise γ = 0.33        |
 * | fuzzy  | mixture at τ 1e-4, no noise            | mixture at τ 1e-4 + Gaussian noise γ = 0.33       |
 * | latent | hidden states (deterministic)          | hidden states; only the answer is sampled         |
 * | off    | no thinking                            | no thinking; answer sampled                       |
 *
 * The answer is greedy (temperature 0) for pass@1 and sampled at temperature 1 for pass@k.
 */

export const EVAL_MODES = ['hard', 'soft', 'fuzzy', 'latent', 'off'] as const;
export type EvalMode = (typeof EVAL_MODES)[number];

/** γ of the exploration noise of sampled soft/fuzzy thinking (per-coordinate std γ·RMS(E)). */
export const NOISE_GAMMA = 0.33;

/** Parses `hard,soft` into modes. @throws Error naming an unknown mode */
export function parseModes(text: string): EvalMode[] {
  const modes = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const m of modes) {
    if (!(EVAL_MODES as readonly string[]).includes(m)) {
      throw new Error(`unknown mode "${m}" (modes: ${EVAL_MODES.join(', ')})`);
    }
  }
  if (modes.length === 0) throw new Error('no modes given');
  return [...new Set(modes)] as EvalMode[];
}

/** The `thinking` object of a request; `budget` overrides the checkpoint's thinking budget. */
function thinking(mode: EvalMode, sampled: boolean, budget?: number): Record<string, unknown> {
  if (mode === 'off') return { mode: 'off' };
  const t: Record<string, unknown> = { mode, ...(budget !== undefined && { max_tokens: budget }) };
  if (mode === 'hard' && !sampled) t.temperature = 0;
  if (sampled && (mode === 'soft' || mode === 'fuzzy')) t.noise = { type: 'gaussian', scale: NOISE_GAMMA };
  return t;
}

/** Request fields (besides model and messages) of one greedy answer. */
export function greedyRequest(mode: EvalMode, budget?: number): Record<string, unknown> {
  return { temperature: 0, n: 1, thinking: thinking(mode, false, budget) };
}

/** Request fields of `n` sampled answers sharing the prompt. */
export function sampledRequest(
  mode: EvalMode,
  n: number,
  seed: number,
  budget?: number,
): Record<string, unknown> {
  return { temperature: 1, n, seed, thinking: thinking(mode, true, budget) };
}
