/**
 * vLLM's metric names (`vllm:`-prefixed) beside reverie's own, so vLLM's Grafana dashboard and
 * alerts work unchanged: each aliased family is repeated under the vLLM name in the Prometheus
 * text. OpenTelemetry instrument names cannot contain `:`, so the copies are made on the
 * exposition text, once per scrape.
 *
 * vLLM serves one model per server and labels everything with `model_name`; reverie's engine-wide
 * series (queue, KV cache, preemptions, prefix cache) carry no model, so their aliases get
 * `model_name` when exactly one model is served (the value is then that model's).
 */

/** reverie family (as exposed) → vLLM names; `engineWide`: the series have no `model_name`. */
export const VLLM_ALIASES: Readonly<Record<string, { names: readonly string[]; engineWide?: boolean }>> = {
  reverie_num_requests_running: { names: ['vllm:num_requests_running'], engineWide: true },
  reverie_num_requests_waiting: { names: ['vllm:num_requests_waiting'], engineWide: true },
  // vLLM renamed gpu_cache_usage_perc to kv_cache_usage_perc; its example dashboard reads the old name.
  reverie_kv_cache_usage_perc: {
    names: ['vllm:kv_cache_usage_perc', 'vllm:gpu_cache_usage_perc'],
    engineWide: true,
  },
  reverie_num_preemptions_total: { names: ['vllm:num_preemptions_total'], engineWide: true },
  reverie_prefix_cache_queries_total: { names: ['vllm:prefix_cache_queries_total'], engineWide: true },
  reverie_prefix_cache_hits_total: { names: ['vllm:prefix_cache_hits_total'], engineWide: true },
  reverie_prompt_tokens_total: { names: ['vllm:prompt_tokens_total'] },
  reverie_generation_tokens_total: { names: ['vllm:generation_tokens_total'] },
  reverie_request_success_total: { names: ['vllm:request_success_total'] },
  reverie_request_prompt_tokens: { names: ['vllm:request_prompt_tokens'] },
  reverie_request_generation_tokens: { names: ['vllm:request_generation_tokens'] },
  reverie_time_to_first_token_seconds: { names: ['vllm:time_to_first_token_seconds'] },
  // Renamed in vLLM too (time_per_output_token_seconds → inter_token_latency_seconds): both.
  reverie_inter_token_latency_seconds: {
    names: ['vllm:inter_token_latency_seconds', 'vllm:time_per_output_token_seconds'],
  },
  reverie_e2e_request_latency_seconds: { names: ['vllm:e2e_request_latency_seconds'] },
  reverie_request_queue_time_seconds: { names: ['vllm:request_queue_time_seconds'] },
};

/** The family a `# HELP` / `# TYPE` line opens. */
function familyOf(line: string): string | null {
  const m = /^# (?:HELP|TYPE) (\S+)/.exec(line);
  return m ? m[1]! : null;
}

function escapeLabel(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));
}

/** One family's lines under another name, with an extra label on each sample when given. */
function renamed(lines: readonly string[], from: string, to: string, label: string | null): string[] {
  return lines.map((line) => {
    if (line.startsWith('#')) return line.replace(` ${from}`, ` ${to}`);
    const m = new RegExp(`^${from}((?:_bucket|_sum|_count)?)(\\{([^}]*)\\})?(\\s.*)$`).exec(line);
    if (!m) return line;
    const labels = [label, m[3]].filter((l) => l).join(',');
    return `${to}${m[1]}${labels ? `{${labels}}` : ''}${m[4]}`;
  });
}

/**
 * Appends the vLLM-named copies of the aliased families to a Prometheus text exposition.
 * @param models the served models' names (engine-wide aliases get `model_name` when there is one)
 */
export function withVllmAliases(text: string, models: readonly string[]): string {
  const families = new Map<string, string[]>();
  let current: string[] | null = null;
  for (const line of text.split('\n')) {
    const family = familyOf(line);
    if (family) {
      current = families.get(family) ?? null;
      if (!current && family in VLLM_ALIASES) families.set(family, (current = []));
    }
    current?.push(line);
  }
  const extra: string[] = [];
  for (const [family, lines] of families) {
    const alias = VLLM_ALIASES[family]!;
    const label = alias.engineWide && models.length === 1 ? `model_name="${escapeLabel(models[0]!)}"` : null;
    for (const name of alias.names)
      extra.push(...renamed(lines, family, name, label).filter((l) => l !== ''));
  }
  if (extra.length === 0) return text;
  return `${text.replace(/\n*$/, '\n')}${extra.join('\n')}\n`;
}
