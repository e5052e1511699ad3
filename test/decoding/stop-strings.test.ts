import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IncrementalDetokenizer } from '../../src/decoding/detokenizer.ts';
import { StopStringMatcher, truncateAtStop } from '../../src/decoding/stop-strings.ts';
import { bytes, byteTokenizer, contentIds, IM_END, logitsWith, output, runAlone, textOf } from './helpers.ts';

function feed(stops: string[], pieces: string[]): { emitted: string[]; stopped: boolean; rest: string } {
  const m = new StopStringMatcher(stops);
  const emitted: string[] = [];
  for (const p of pieces) {
    const r = m.push(p);
    emitted.push(r.text);
    if (r.stopped) return { emitted, stopped: true, rest: '' };
  }
  return { emitted, stopped: false, rest: m.flush() };
}

describe('StopStringMatcher', () => {
  it('holds back a possible stop string start and never emits a stop string spanning pieces', () => {
    const r = feed(['STOP'], ['hello S', 'T', 'OP and more']);
    assert.deepEqual(r.emitted, ['hello ', '', '']);
    assert.equal(r.stopped, true);
  });

  it('releases held text when it turns out not to be a stop string', () => {
    const r = feed(['STOP'], ['a S', 'Tx', 'y']);
    assert.deepEqual(r.emitted, ['a ', 'STx', 'y']);
    assert.equal(r.stopped, false);
  });

  it('flushes held text at the end', () => {
    assert.deepEqual(feed(['STOP'], ['end ST']), { emitted: ['end '], stopped: false, rest: 'ST' });
  });

  it('stops at the earliest of several stop strings', () => {
    assert.deepEqual(truncateAtStop('x ab cd', ['cd', 'b']), { text: 'x a', stopped: true });
  });
});

describe('IncrementalDetokenizer', () => {
  it('waits for complete UTF-8 characters', () => {
    const d = new IncrementalDetokenizer(byteTokenizer);
    const deltas = bytes('a€b').map((id) => d.push(id));
    assert.deepEqual(deltas, ['a', '', '', '€', 'b']);
    assert.equal(d.flush(), '');
  });

  it('flushes an incomplete character as U+FFFD', () => {
    const d = new IncrementalDetokenizer(byteTokenizer);
    assert.equal(d.push(0xe2), '');
    assert.equal(d.flush(), '\uFFFD');
  });
});

/** A first output whose logits favour `text[0]`, then a model that walks through `text` then EOS. */
function scripted(text: string) {
  const ids = [...bytes(text), IM_END];
  let i = 0;
  const next = () => output(logitsWith({ [ids[Math.min(i++, ids.length - 1)]]: 10 }));
  return { first: next(), model: { forward: next } };
}

describe('discrete answer with stop strings', () => {
  it('emits the text before a stop string that spans tokens, never the stop string', () => {
    const s = scripted('Hi there STOP trailing');
    const { events } = runAlone(
      { temperature: 0, stop: ['STOP'], max_tokens: 100 },
      { first: s.first, model: s.model as never },
    );
    assert.equal(textOf(events, 'content'), 'Hi there ');
    const finish = events.at(-1);
    assert.equal(finish?.type === 'finish' && finish.reason, 'stop');
    assert.deepEqual(contentIds(events), bytes('Hi there STOP'), 'every sampled token is reported');
  });

  it('ends at EOS with the held text released and EOS not emitted', () => {
    const s = scripted('ab S');
    const { events } = runAlone(
      { temperature: 0, stop: ['STOP'] },
      { first: s.first, model: s.model as never },
    );
    assert.equal(textOf(events, 'content'), 'ab S');
    const finish = events.at(-1);
    assert.ok(finish?.type === 'finish' && finish.reason === 'stop');
    assert.equal(finish.usage.completionTokens, 5, '4 tokens + EOS');
    assert.deepEqual(contentIds(events), bytes('ab S'));
  });

  it('ends at max_tokens with reason length', () => {
    const s = scripted('abcdef');
    const { events } = runAlone(
      { temperature: 0, max_tokens: 3 },
      { first: s.first, model: s.model as never },
    );
    assert.equal(textOf(events, 'content'), 'abc');
    const finish = events.at(-1);
    assert.ok(finish?.type === 'finish' && finish.reason === 'length' && finish.usage.completionTokens === 3);
  });

  it('reports logprobs consistent with the sampled tokens', () => {
    const s = scripted('xyz');
    const { events } = runAlone(
      { temperature: 0, logprobs: true, top_logprobs: 2, logit_bias: { [bytes('y')[0]]: 1 } },
      { first: s.first, model: s.model as never },
    );
    const lps = events.flatMap((e) => (e.type === 'content' ? (e.logprobs ?? []) : []));
    assert.deepEqual(
      lps.map((l) => l.id),
      contentIds(events),
    );
    // Step 2: logit 10 + bias 1 on 'y' against 260 others at −5 (padding excluded).
    const expected = 11 - Math.log(Math.exp(11) + 260 * Math.exp(-5));
    assert.ok(Math.abs(lps[1].logprob - expected) < 1e-5, `${lps[1].logprob} vs ${expected}`);
    assert.equal(lps[1].top_logprobs[0].id, lps[1].id);
    assert.equal(lps[1].top_logprobs.length, 2);
  });
});
