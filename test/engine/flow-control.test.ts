import assert from 'node:assert/strict';
import { describe, it, mock } from 'node:test';
import { FlowControl } from '../../src/engine/flow-control.ts';
import { EngineError, type EngineEvent } from '../../src/engine/types.ts';

/** Credit accounting and the stall timer, without a worker: the engine's actions are recorded. */

const token = (i: number): EngineEvent => ({ type: 'content', choice: 0, text: String(i), tokenIds: [i] });

function setup(maxBufferedEvents = 8, stallTimeoutMs = 1_000) {
  const credits: number[] = [];
  const stalled: string[] = [];
  const flow = new FlowControl(
    { maxBufferedEvents, stallTimeoutMs },
    { credit: (_id, events) => credits.push(events), stalled: (id) => stalled.push(id) },
  );
  return { flow, credits, stalled, channel: flow.channel('r') };
}

describe('flow control', () => {
  it('grants credit half a window at a time as the reader takes events', async () => {
    const { channel, credits, flow } = setup(8);
    const reader = channel[Symbol.asyncIterator]();
    for (let i = 0; i < 8; i++) channel.push(token(i));
    assert.equal(flow.stats().bufferedEvents, 8);
    for (let i = 0; i < 3; i++) await reader.next();
    assert.deepEqual(credits, [], 'less than half a window read');
    await reader.next();
    assert.deepEqual(credits, [4]);
    assert.equal(flow.stats().bufferedEvents, 4);
  });

  it('out of credit is a pause; a grant that restores credit resumes it', async () => {
    const { channel, flow } = setup(8);
    const reader = channel[Symbol.asyncIterator]();
    for (let i = 0; i < 7; i++) channel.push(token(i));
    assert.equal(flow.stats().paused, 0);
    channel.push(token(7));
    assert.deepEqual([flow.stats().paused, flow.stats().pauses], [1, 1]);
    for (let i = 0; i < 4; i++) await reader.next();
    assert.deepEqual([flow.stats().paused, flow.stats().resumes], [0, 1]);
  });

  it('a pause that lasts the stall timeout cancels the request once; the end of a request forgets it', () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    try {
      const { flow, stalled, channel } = setup(4, 1_000);
      for (let i = 0; i < 4; i++) channel.push(token(i));
      mock.timers.tick(999);
      assert.deepEqual(stalled, []);
      mock.timers.tick(1);
      assert.deepEqual(stalled, ['r']);
      assert.deepEqual([flow.stats().paused, flow.stats().stallCancels], [0, 1]);
      mock.timers.tick(5_000);
      assert.deepEqual(stalled, ['r'], 'once');

      const other = flow.channel('s');
      for (let i = 0; i < 4; i++) other.push(token(i));
      flow.forget('s');
      mock.timers.tick(5_000);
      assert.deepEqual(stalled, ['r']);
      assert.equal(flow.stats().paused, 0);
    } finally {
      mock.timers.reset();
    }
  });

  it('the last event needs no credit, and a reader that leaves drops what it left unread', async () => {
    const { channel, flow } = setup(2);
    channel.push(token(0));
    channel.push({ type: 'error', error: new EngineError('internal_error', 'x') });
    assert.equal(flow.stats().paused, 0);
    assert.equal(flow.stats().bufferedEvents, 2);
    await channel[Symbol.asyncIterator]().return?.();
    assert.equal(flow.stats().bufferedEvents, 0);
  });
});
