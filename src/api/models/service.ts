import type { z } from 'zod';
import type { ModelInfo } from '../../engine/types.ts';
import type { modelObjectSchema } from './schema.ts';

/** The `GET /v1/models` entry of a served checkpoint. */
export function modelObject(model: ModelInfo): z.infer<typeof modelObjectSchema> {
  const m = model.manifest;
  return {
    id: model.name,
    object: 'model',
    created: model.created,
    owned_by: 'reverie',
    root: model.root,
    parent: null,
    max_model_len: model.maxModelLen,
    description: m.description,
    architecture: m.architecture,
    training_method: m.training?.method ?? null,
    modes: [...m.modes],
    thinking: m.thinking,
    defaults: { ...m.defaults },
    ngram: m.ngram !== null,
    quantization: model.quantization,
  };
}
