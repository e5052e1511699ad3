import { ChatTemplate } from '../model/chat-template.ts';
import type { Checkpoint } from '../model/checkpoint.ts';
import type { ModelConfig } from '../model/hf-config.ts';
import type { Manifest } from '../model/manifest.ts';
import { TextTokenizer } from '../model/tokenizer.ts';

/**
 * What `reverie convert` tells the user it found, one line per fact, so a wrong guess (markers,
 * eos, context) is visible before the model is served.
 */

const fmt = (n: number) => n.toLocaleString('en-US');

function rope(cfg: ModelConfig): string {
  const s = cfg.ropeScaling;
  const base = `rope θ ${cfg.ropeTheta}`;
  if (!s) return base;
  const from = 'originalMaxPositions' in s ? ` from ${fmt(s.originalMaxPositions)}` : '';
  return `${base}, ${s.type} scaling × ${s.factor}${from}`;
}

/** The graph's weights as the manifest names them: float of a dtype, or a quantization. */
function weightsText(m: Manifest): string {
  const q = m.quantization;
  if (!q) return `${m.dtype ?? 'fp32'} (float)`;
  const body =
    q.weights === 'int8'
      ? 'int8, one scale per output channel'
      : `int4 in blocks of ${q.block_size}${q.zero_points ? ' with zero points' : ', symmetric'}`;
  return `${body}; head ${q.lm_head}, embedding ${q.embedding}; activations fp32`;
}

/** The summary lines (without indentation). */
export function convertSummary(checkpoint: Checkpoint): string[] {
  const { config: c, manifest: m, generation } = checkpoint;
  const tokenizer = new TextTokenizer(checkpoint.tokenizerJson, checkpoint.tokenizerConfig);
  const name = (id: number) => {
    try {
      return `${id} ${tokenizer.tokenText(id)}`;
    } catch {
      return `${id}`;
    }
  };
  const padded =
    c.vocabSize > tokenizer.vocabSize
      ? ` (tokenizer ${fmt(tokenizer.vocabSize)}; the rest is padding, never sampled)`
      : '';
  const heads = `${c.numHeads} heads (${c.numKvHeads} KV) of ${c.headDim}`;
  const extras = [
    c.tieEmbeddings ? 'tied embeddings' : 'untied head',
    c.qkvBias && 'q/k/v biases',
    c.qkNorm && 'q/k norm',
  ].filter(Boolean);
  const lines = [
    `architecture  ${c.architecture}: ${c.numLayers} layers, hidden ${c.hiddenSize}, ${heads}, ${extras.join(', ')}`,
    `vocabulary    ${fmt(c.vocabSize)}${padded}`,
    `context       ${fmt(c.maxPositions)} positions, ${rope(c)}${c.slidingWindow !== null ? `; sliding window ${fmt(c.slidingWindow)}: serve with --max-model-len ≤ ${c.slidingWindow}` : ''}`,
    `eos           ${generation.eosTokenIds.map(name).join(', ')}`,
  ];
  if (m.thinking) {
    const soft = m.defaults.soft_thinking;
    const softText = soft
      ? `soft thinking τ ${soft.temperature ?? 0.5}, top-k ${soft.top_k ?? 'off'}, top-p ${soft.top_p ?? 1}, min-p ${soft.min_p ?? 0}` +
        (soft.cold_stop
          ? `, Cold Stop entropy < ${soft.cold_stop.entropy_below} × ${soft.cold_stop.patience}`
          : '')
      : 'soft thinking over the whole vocabulary';
    lines.push(
      `thinking      ${m.thinking.start} … ${m.thinking.end}; default mode ${m.defaults.thinking_mode}; ${softText}`,
    );
  } else {
    lines.push('thinking      no think markers in the tokenizer: discrete and superposed decoding only');
  }
  const template = checkpoint.tokenizerConfig.chat_template;
  if (template) {
    ChatTemplate.fromTokenizerConfig(checkpoint.tokenizerConfig); // refuses a template that does not parse
    const source = typeof template === 'string' ? template : template.map((t) => t.template).join('\n');
    const kwargs = ['enable_thinking', 'tools'].filter((k) => source.includes(k));
    lines.push(`chat template yes${kwargs.length ? ` (reads ${kwargs.join(', ')})` : ''}`);
  } else {
    lines.push('chat template none: serve through /v1/completions');
  }
  const d = m.defaults;
  const sampling =
    d.temperature === 0
      ? 'greedy'
      : `temperature ${d.temperature}, top-p ${d.top_p}${d.top_k ? `, top-k ${d.top_k}` : ''}`;
  lines.push(
    `defaults      ${sampling}, max_tokens ${d.max_tokens ?? 'the rest of the context'}, thinking budget ${d.thinking_max_tokens}`,
  );
  lines.push(`modes         ${m.modes.join(', ')}`);
  lines.push(`weights       ${weightsText(m)}`);
  return lines;
}
