/**
 * The decoder graph's input and output names (the contract documented in decoder-graph.ts). The
 * runner needs only these; the graph builder and its protobuf library load when a graph is built.
 */
export const IO = {
  inputIds: 'input_ids',
  inputWeights: 'input_weights',
  embedsAdd: 'inputs_embeds_add',
  denseWeights: 'dense_weights',
  denseIndex: 'dense_index',
  positionIds: 'position_ids',
  attentionMask: 'attention_mask',
  outputIndex: 'output_index',
  pastKey: (l: number) => `past_key_${l}`,
  pastValue: (l: number) => `past_value_${l}`,
  presentKey: (l: number) => `present_key_${l}`,
  presentValue: (l: number) => `present_value_${l}`,
  cacheKey: (l: number) => `cache_key_${l}`,
  cacheValue: (l: number) => `cache_value_${l}`,
  logits: 'logits',
  hidden: 'hidden',
} as const;
