import { buildGrammar } from './build-grammar.ts';
import { checkStructuredOutput, type StructuredOutput, StructuredOutputError } from './spec.ts';
import { XgrammarRuntime } from './xgrammar-runtime.ts';

/**
 * Validates a constraint where the request arrives (the API thread), as vLLM's frontend does:
 * the grammar is parsed without a tokenizer, so a bad regex, EBNF or schema is a 400 before the
 * request is submitted — and it aborts this thread's own XGrammar instance, never the worker's.
 * A poisoned instance is replaced on the next call. The first call loads XGrammar (~100 ms).
 */

let runtime: Promise<XgrammarRuntime> | null = null;

async function liveRuntime(): Promise<XgrammarRuntime> {
  if (runtime) {
    const current = await runtime.catch(() => null);
    if (current && !current.poisoned) return current;
  }
  runtime = XgrammarRuntime.create();
  return runtime;
}

/**
 * @throws StructuredOutputError naming what is wrong (XGrammar's own message for a grammar it refuses)
 * @example await validateStructuredOutput({ type: 'regex', pattern: '[0-9]{3}' });
 */
export async function validateStructuredOutput(spec: StructuredOutput): Promise<void> {
  checkStructuredOutput(spec);
  const rt = await liveRuntime();
  try {
    (await rt.run(() => buildGrammar(rt.xg, spec))).dispose();
  } catch (err) {
    throw new StructuredOutputError(
      `invalid ${spec.type}: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}
