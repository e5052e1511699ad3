import type { Grammar } from '@mlc-ai/web-xgrammar';
import { choiceGrammar, type StructuredOutput } from './spec.ts';
import type { XgrammarModule } from './xgrammar-runtime.ts';

/**
 * A constraint as an XGrammar grammar, the way vLLM's xgrammar backend maps each kind. It needs
 * no tokenizer: the API thread runs it to validate a request (validate.ts), the worker compiles
 * its result against the vocabulary (grammar-compiler.ts).
 */
export function buildGrammar(xg: XgrammarModule, spec: StructuredOutput): Promise<Grammar> {
  // No `anyWhitespace`: one line with vLLM's (Python json.dumps') separators ", " and ": ".
  const json = (schema: unknown, anyWhitespace = true) =>
    xg.Grammar.fromJSONSchema(JSON.stringify(schema), anyWhitespace, anyWhitespace ? undefined : -1);
  switch (spec.type) {
    case 'json_schema':
      return json(spec.schema, spec.anyWhitespace);
    case 'json_object':
      return json({ type: 'object' }, spec.anyWhitespace);
    case 'regex':
      return xg.Grammar.fromStructuralTag({ type: 'regex', pattern: spec.pattern });
    case 'choice':
      return xg.Grammar.fromEBNF(choiceGrammar(spec.choices));
    case 'grammar':
      return xg.Grammar.fromEBNF(spec.grammar);
    case 'structural_tag':
      return xg.Grammar.fromStructuralTag(structuralTagArgument(spec.tag));
  }
}

/** vLLM's older `{"structures": [{begin, schema, end}], "triggers"}` form, as a `triggered_tags` format. */
function structuralTagArgument(tag: Record<string, unknown>): Record<string, unknown> {
  if (!Array.isArray(tag.structures)) return tag;
  const structures = tag.structures as { begin: string; schema: unknown; end: string }[];
  return {
    type: 'structural_tag',
    format: {
      type: 'triggered_tags',
      triggers: tag.triggers,
      tags: structures.map((s) => ({
        type: 'tag',
        begin: s.begin,
        content: { type: 'json_schema', json_schema: s.schema },
        end: s.end,
      })),
    },
  };
}
