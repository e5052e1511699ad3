import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import type * as Xgrammar from '@mlc-ai/web-xgrammar';

/**
 * One instance of XGrammar's WebAssembly build (`@mlc-ai/web-xgrammar`, the engine vLLM and SGLang
 * use for structured outputs), loaded for Node.
 *
 * Two facts of that build shape this file (docs/structured-output.md has the measurements):
 *
 * - Its bundle is a UMD script in a `"type": "module"` package that reads `require` and
 *   `__filename` at load time, so Node's ESM loader cannot import it. It is evaluated here as the
 *   CommonJS module it is, with its own `require`; each evaluation is a fresh, independent wasm
 *   instance.
 * - An invalid grammar (bad regex, EBNF or schema) is a C++ `FATAL` check that aborts the wasm
 *   call: the error message goes to `printErr`, the call throws `Aborted()`, and the instance is
 *   left with a leaked stack frame — after a few dozen aborts it corrupts memory. So an abort
 *   poisons the instance: {@link XgrammarRuntime.run} reports the C++ message as an
 *   {@link XgrammarError}, and the owner replaces a poisoned runtime with a fresh one (matchers
 *   already running in the old one finish there; they only read what was compiled before).
 */

export type XgrammarModule = typeof Xgrammar;

/** A grammar the engine refused (the C++ check's message, e.g. a regex parsing error). */
export class XgrammarError extends Error {
  override readonly name = 'XgrammarError';
}

/**
 * The instance's `printErr` is bound to `console.error` when the wasm initialises; it is pointed
 * at this dispatcher so a runtime can collect the messages of its own failing call.
 */
let capture: string[] | null = null;

function evaluateBundle(): XgrammarModule {
  const require = createRequire(import.meta.url);
  const file = require.resolve('@mlc-ai/web-xgrammar');
  const module = { exports: {} as XgrammarModule };
  // The bundle's own CommonJS wrapper parameters; `import()` inside it resolves Node built-ins.
  const factory = new Function(
    'exports',
    'require',
    'module',
    '__filename',
    '__dirname',
    readFileSync(file, 'utf8'),
  );
  factory.call(module.exports, module.exports, createRequire(file), module, file, dirname(file));
  return module.exports;
}

/**
 * @example
 * const runtime = await XgrammarRuntime.create();
 * const grammar = await runtime.run(() => runtime.xg.Grammar.fromEBNF('root ::= "yes" | "no"'));
 */
export class XgrammarRuntime {
  /** Set once a call aborted: the instance must not compile anything more. */
  #poisoned = false;

  private constructor(readonly xg: XgrammarModule) {}

  /** Loads a fresh instance and initialises its wasm (about 100 ms). */
  static async create(): Promise<XgrammarRuntime> {
    const xg = evaluateBundle();
    const original = console.error;
    const dispatcher = (...args: unknown[]) => {
      if (capture) capture.push(args.map(String).join(' '));
      else original.apply(console, args);
    };
    console.error = dispatcher;
    try {
      // Any call initialises the wasm, which binds `printErr` to the dispatcher above.
      (await xg.Grammar.builtinJSONGrammar()).dispose();
    } finally {
      if (console.error === dispatcher) console.error = original;
    }
    return new XgrammarRuntime(xg);
  }

  get poisoned(): boolean {
    return this.#poisoned;
  }

  /**
   * Runs a call into the instance. The library's async methods only await the (done)
   * initialisation before their synchronous wasm call, so nothing else runs in between.
   * @throws XgrammarError with the C++ message when the call aborted (the runtime is then poisoned)
   */
  async run<T>(call: () => Promise<T> | T): Promise<T> {
    if (this.#poisoned)
      throw new XgrammarError('the grammar engine instance is poisoned by an earlier abort');
    const lines: string[] = [];
    const outer = capture;
    capture = lines;
    try {
      return await call();
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (!/Aborted\(/.test(message)) throw err;
      this.#poisoned = true;
      throw new XgrammarError(fatalMessage(lines) ?? message);
    } finally {
      capture = outer;
    }
  }
}

/** The useful part of `[FATAL] /path/file.cc:75: Regex parsing error at position 3: …`. */
function fatalMessage(lines: readonly string[]): string | null {
  const fatal = lines.find((l) => l.includes('[FATAL]'));
  if (!fatal) return null;
  return fatal
    .replace(/^.*\[FATAL\]\s*\S+:\d+:\s*/, '')
    .replace(/^Check failed: \(.*?\) is false:\s*/, '')
    .trim();
}
