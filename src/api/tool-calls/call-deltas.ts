import { objectEntries, skipWhitespace, stringEntry } from './json-scan.ts';
import { type DeltaToolCall, type ToolCallDelta, type ToolCallStream, toolCallId } from './types.ts';

/**
 * Turns the texts of the call objects seen so far (each possibly unfinished) into the deltas not
 * yet sent, as vLLM's parsers stream: a call's name once its string is closed (with a new id),
 * then its arguments' raw text as it grows. A call whose name is not known yet holds back every
 * later call, so indexes stay in order.
 */
export class CallDeltas {
  readonly #argumentKeys: readonly string[];
  readonly #sent: { name: string; args: string }[] = [];

  /** @param argumentKeys keys the arguments may be under (`arguments`, Llama's `parameters`) */
  constructor(argumentKeys: readonly string[] = ['arguments']) {
    this.#argumentKeys = argumentKeys;
  }

  /** Calls whose name went out. */
  get count(): number {
    return this.#sent.length;
  }

  /** The deltas that `objects` (the call objects' texts so far, in order) add to what was sent. */
  update(objects: readonly string[]): DeltaToolCall[] {
    const deltas: DeltaToolCall[] = [];
    for (const [index, text] of objects.entries()) {
      const start = skipWhitespace(text, 0);
      if (text[start] !== '{') break;
      const { entries } = objectEntries(text, start);
      let sent = this.#sent[index];
      if (!sent) {
        const name = stringEntry(entries, 'name');
        if (name === null) break;
        sent = { name, args: '' };
        this.#sent.push(sent);
        deltas.push({ index, id: toolCallId(), type: 'function', function: { name } });
      }
      const args = entries.find((e) => this.#argumentKeys.includes(e.key))?.raw ?? '';
      if (args.length > sent.args.length && args.startsWith(sent.args)) {
        deltas.push({ index, function: { arguments: args.slice(sent.args.length) } });
        sent.args = args;
      }
    }
    return deltas;
  }
}

/**
 * A stream that re-reads the whole answer so far at each piece (answers are short; this keeps
 * each family's parser a function of the text, as vLLM's are) and reports what is new.
 */
export abstract class AccumulatingStream implements ToolCallStream {
  protected text = '';
  protected readonly calls: CallDeltas;

  constructor(argumentKeys: readonly string[]) {
    this.calls = new CallDeltas(argumentKeys);
  }

  get callCount(): number {
    return this.calls.count;
  }

  push(text: string): ToolCallDelta {
    this.text += text;
    return this.delta(false);
  }

  finish(): ToolCallDelta {
    return this.delta(true);
  }

  /** What the text so far adds; `final` once no more text will come. */
  protected abstract delta(final: boolean): ToolCallDelta;
}
