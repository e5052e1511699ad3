import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { type LiveServer, runningAfterProbe, startLiveServer } from '../api/live-server.ts';
import { CHROMIUM_PATH, type Chromium, launchChromium } from './browser.ts';
import { ask, openPlayground } from './page.ts';

/**
 * The playground in a real headless Chromium (Debian's, through playwright-core) against a live
 * server: the real engine on the tiny random-weight model, API keys on. What the page draws is
 * checked against the WebSocket frames the browser itself received.
 */

type Frame = Record<string, unknown> & { type: string; id?: string | null };
type Trace = { top_k: { fed: number; p: number }[]; entropy: number };

const KEY = 'playground-key';
/**
 * The random tiny model favours special tokens, which the text skips by default (vLLM's
 * skip_special_tokens): keep them, so every answer token shows.
 */
const SHOW_SPECIALS = JSON.stringify({ skip_special_tokens: false });
/** Bans both EOS ids of the tiny model: the requests run to their max_tokens. */
const NO_EOS = JSON.stringify({ logit_bias: { 256: -100, 258: -100 }, skip_special_tokens: false });

/** Every WebSocket frame of a page, in order, with its direction. */
function recordFrames(page: Page): { sent: Frame[]; received: Frame[]; all: { dir: string; msg: Frame }[] } {
  const log = { sent: [] as Frame[], received: [] as Frame[], all: [] as { dir: string; msg: Frame }[] };
  page.on('websocket', (ws) => {
    ws.on('framesent', (f) => {
      const msg = JSON.parse(String(f.payload)) as Frame;
      log.sent.push(msg);
      log.all.push({ dir: 'sent', msg });
    });
    ws.on('framereceived', (f) => {
      const msg = JSON.parse(String(f.payload)) as Frame;
      log.received.push(msg);
      log.all.push({ dir: 'received', msg });
    });
  });
  return log;
}

/**
 * Arms the page to press Stop (or Escape) as soon as the next turn's first answer text shows, from
 * within the page: the whole 990-token run takes ~250 ms on the tiny model, which a round trip
 * through the test (wait for the text, then click) can outrun on a loaded machine, leaving nothing
 * to stop. The page handles one WebSocket message per task and runs the observer right after, so
 * the press comes after the first delta and before any later message. Records whether Stop was
 * enabled at that moment (`window.stopWasEnabled`).
 */
async function stopOnFirstAnswer(page: Page, how: 'Stop' | 'Escape'): Promise<void> {
  // Page code as text: this project's TypeScript has no DOM types.
  await page.evaluate(`{
    window.stopWasEnabled = undefined;
    const turns = document.querySelectorAll('.turn').length;
    const observer = new MutationObserver(() => {
      const answer = document.querySelectorAll('.turn')[turns]?.querySelector('.answer');
      if (!answer?.textContent) return;
      observer.disconnect();
      const stop = document.getElementById('stop');
      window.stopWasEnabled = !stop.disabled;
      if (${JSON.stringify(how)} === 'Stop') stop.click();
      else document.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape', bubbles: true }));
    });
    observer.observe(document.body, { childList: true, subtree: true, characterData: true });
  }`);
}

it('a Chromium is installed for the browser tests (never skipped: `apt-get install -y chromium`)', () => {
  assert.ok(existsSync(CHROMIUM_PATH), `no Chromium at ${CHROMIUM_PATH}: apt-get install -y chromium`);
});

describe('playground in headless Chromium (live server, real engine, tiny model)', () => {
  let browser: Chromium;
  let live: LiveServer;
  /** Every URL any page asked for (HTTP and WebSocket), and those not on the server. */
  const requested: string[] = [];
  const outside: string[] = [];

  before(async () => {
    // First: a missing browser fails here at once, with how to install it.
    browser = await launchChromium();
    live = await startLiveServer({ config: { apiKeys: [KEY] } });
    await browser.context.route('**/*', (route) => {
      const url = route.request().url();
      requested.push(url);
      if (url.startsWith(`${live.url}/`)) return route.continue();
      outside.push(url);
      return route.abort();
    });
    browser.context.on('page', (page) => page.on('websocket', (ws) => requested.push(ws.url())));
  });
  after(async () => {
    await browser?.close();
    await live?.close();
  });

  it('loads from the server alone under its CSP; the key unlocks the models; modes follow the manifest', async () => {
    const page = await browser.context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (err) => problems.push(err.message));
    page.on('console', (m) => {
      // The one expected error: the keyless GET /v1/models, answered 401.
      if (m.type() === 'error' && !m.text().includes('401')) problems.push(m.text());
    });
    const res = await page.goto(`${live.url}/`);
    assert.equal(new URL(page.url()).pathname, '/playground/');
    assert.match(res!.headers()['content-security-policy'] ?? '', /default-src 'none'/);

    // No key yet: the server's 401 is shown where the key goes, and there is no model to pick.
    const serverError = page.locator('#server-error');
    await serverError.waitFor();
    assert.match(await serverError.innerText(), /Missing or invalid API key/);
    assert.equal(await page.locator('#model option').count(), 0);

    await page.getByLabel('API key').fill(KEY);
    await page.getByLabel('API key').press('Enter');
    await page.locator('#model option').first().waitFor({ state: 'attached' });
    assert.deepEqual(await page.locator('#model option').allTextContents(), ['tiny']);
    assert.equal(await serverError.isHidden(), true);
    // The tiny model thinks (hard, soft, fuzzy) and superposes, but has no latent mode.
    const disabled = await page
      .locator('#mode option')
      .evaluateAll((options) =>
        options.filter((o) => (o as { disabled: boolean }).disabled).map((o) => o.textContent),
      );
    assert.deepEqual(disabled, ['latent']);
    assert.equal(await page.locator('#drafts').isEnabled(), true);

    assert.deepEqual(problems, []);
    assert.ok(requested.some((u) => u.endsWith('/playground/main.js')));
    assert.deepEqual(outside, []);
    await page.close();
  });

  it('soft thinking draws one bar group per traced step, stacked from what it fed, with the entropy line', async () => {
    const page = await openPlayground(browser.context, live.url, KEY);
    const frames = recordFrames(page);
    const turn = await ask(page, 'hi', {
      mode: 'soft',
      thinking_max_tokens: '6',
      thinking_temperature: '2',
      thinking_top_k: '2',
      trace_top_k: '3',
      // Thinking included: 6 thoughts, </think>, 3 answer tokens.
      max_tokens: '10',
      temperature: '0',
      extra: SHOW_SPECIALS,
    });
    assert.equal(await turn.locator('.run').getAttribute('data-status'), 'done');

    const create = frames.sent.find((m) => m.type === 'response.create')!;
    const request = create.request as { thinking: Record<string, unknown> };
    assert.equal(request.thinking.mode, 'soft');
    assert.equal(request.thinking.trace, true);
    assert.equal(request.thinking.trace_top_k, 3);
    const traces = frames.received
      .filter((m) => m.type === 'response.reasoning.delta' && m.trace)
      .map((m) => m.trace as Trace);
    assert.ok(traces.length >= 1 && traces.length <= 6, `${traces.length} traced steps`);

    const steps = turn.locator('g.step');
    assert.equal(await steps.count(), traces.length, 'one bar group per step');
    const drawn = await steps.evaluateAll((groups) =>
      groups.map((g) => ({
        fed: g.getAttribute('data-fed'),
        heights: [...g.querySelectorAll('.fed rect:not(.rest)')].map((r) => Number(r.getAttribute('height'))),
      })),
    );
    drawn.forEach((step, i) => {
      const fed = traces[i]!.top_k.map((t) => t.fed);
      assert.equal(step.fed, fed.join(' '), `step ${i}: the fed weights, not p`);
      // Each segment's height is its fed weight on one scale (zero weights draw nothing).
      const positive = fed.filter((w) => w * 120 > 0);
      assert.equal(step.heights.length, positive.length);
      step.heights.forEach((h, j) => {
        assert.ok(Math.abs(h - positive[j]! * 120) < 1e-6, `${h} vs ${positive[j]}`);
      });
    });
    // Top-k 2 truncated the mixture: the third token has p > 0 but fed 0, so fed is not p.
    for (const t of traces) {
      assert.equal(t.top_k[2]!.fed, 0);
      assert.ok(t.top_k[2]!.p > 0 && t.top_k[0]!.fed > t.top_k[0]!.p);
    }
    const points = (await turn.locator('polyline.entropy').getAttribute('points'))!.trim().split(/\s+/);
    assert.equal(points.length, traces.length, 'one entropy point per step');

    // The answer, then usage and timings at the end.
    const answer = frames.received
      .filter((m) => m.type === 'response.output_text.delta')
      .map((m) => m.delta)
      .join('');
    assert.equal(await turn.locator('.answer').innerText(), answer);
    const stats = await turn.locator('.stats').innerText();
    assert.match(stats, /prompt \d+/);
    assert.match(stats, /first token \d+ ms/);
    assert.match(stats, new RegExp(`${traces.length} traced steps`));
    await page.close();
  });

  it('superposed decoding draws the k drafts side by side, step by step, then the k ranked answers', async () => {
    const page = await openPlayground(browser.context, live.url, KEY);
    const frames = recordFrames(page);
    const turn = await ask(page, 'hi', { mode: 'off', drafts: '3', max_tokens: '4', extra: NO_EOS });
    assert.equal(await turn.locator('.run').getAttribute('data-status'), 'done');
    assert.equal(frames.sent.find((m) => m.type === 'response.create')!.stream_drafts, true);

    const updates = frames.received.filter((m) => m.type === 'response.drafts');
    assert.equal(updates.length, 4, 'one update per answer position (EOS banned)');
    const last = updates.at(-1)!.drafts as { text: string; finished: boolean }[];
    assert.equal(last.filter((d) => !d.finished).length, 3);
    const columns = turn.locator('.draft-grid .draft');
    assert.equal(await columns.count(), 3, 'k drafts side by side');
    assert.deepEqual(
      await columns.locator('.draft-text').allTextContents(),
      last.map((d) => d.text),
    );
    assert.match(await turn.locator('.drafts-step').innerText(), /step 4/);
    assert.equal(await turn.locator('.answers .answer').count(), 3, 'the k ranked answers');
    await page.close();
  });

  it('compare runs the same question in two modes at once, side by side', async () => {
    const page = await openPlayground(browser.context, live.url, KEY);
    const frames = recordFrames(page);
    const turn = await ask(page, 'hi', {
      mode: 'hard',
      compare: 'soft',
      thinking_max_tokens: '4',
      max_tokens: '7',
    });
    const runs = turn.locator('.runs.compare .run');
    assert.equal(await runs.count(), 2);
    assert.deepEqual(await runs.evaluateAll((r) => r.map((x) => x.getAttribute('data-mode'))), [
      'hard',
      'soft',
    ]);
    assert.deepEqual(await runs.evaluateAll((r) => r.map((x) => x.getAttribute('data-status'))), [
      'done',
      'done',
    ]);

    const creates = frames.all.filter((f) => f.dir === 'sent' && f.msg.type === 'response.create');
    assert.deepEqual(
      creates.map((f) => (f.msg.request as { thinking: { mode: string } }).thinking.mode),
      ['hard', 'soft'],
    );
    // At once: both were sent before either finished.
    const firstDone = frames.all.findIndex((f) => f.msg.type === 'response.completed');
    assert.ok(frames.all.indexOf(creates[1]!) < firstDone);
    for (const [i, create] of creates.entries()) {
      const traced = frames.received.filter(
        (m) => m.id === create.msg.id && m.type === 'response.reasoning.delta' && m.trace,
      ).length;
      assert.ok(traced >= 1);
      assert.equal(await runs.nth(i).locator('g.step').count(), traced, `run ${i}: its own steps`);
    }
    await page.close();
  });

  it('Stop (and Escape) cancel the stream, on the server too', async () => {
    const page = await openPlayground(browser.context, live.url, KEY);
    const frames = recordFrames(page);
    const long = { mode: 'off', compare: '', max_tokens: '990', extra: NO_EOS };
    for (const how of ['Stop', 'Escape'] as const) {
      await stopOnFirstAnswer(page, how);
      const turn = await ask(page, 'hi', long, false);
      await turn.locator('.run[data-status="cancelled"]').waitFor({ timeout: 10_000 });
      assert.equal(await page.evaluate('window.stopWasEnabled'), true, how);
      const id = frames.sent.filter((m) => m.type === 'response.create').at(-1)!.id;
      assert.ok(
        frames.sent.some((m) => m.type === 'response.cancel' && m.id === id),
        how,
      );
      const deltas = frames.received.filter((m) => m.id === id && m.type === 'response.output_text.delta');
      assert.ok(deltas.length < 990, `${how}: stopped after ${deltas.length} deltas`);
      assert.equal(await runningAfterProbe(live, { authorization: `Bearer ${KEY}` }), 0, how);
      assert.equal(await page.getByRole('button', { name: 'Send' }).isEnabled(), true);
    }
    await page.close();
  });

  it("shows errors in place: the server's, the page's own, and a wrong key's; then goes on", async () => {
    const page = await openPlayground(browser.context, live.url, KEY);
    const frames = recordFrames(page);

    // The server refuses: its message and code appear in the run.
    let turn = await ask(page, 'hi', { mode: 'off', compare: '', max_tokens: '100000', extra: '' });
    const error = frames.received.find((m) => m.type === 'error')!.error as { message: string; code: string };
    assert.match(error.message, /max_tokens is 100000/);
    assert.equal(await turn.locator('.run').getAttribute('data-status'), 'error');
    assert.equal(await turn.locator('.run-error').innerText(), `${error.message} (${error.code})`);

    // The page refuses extra fields that are not JSON before sending anything.
    const sent = frames.sent.length;
    turn = await ask(page, 'hi', { max_tokens: '2', extra: '{oops' });
    assert.match(await turn.locator('.run-error').innerText(), /Extra request fields: not JSON/);
    assert.equal(frames.sent.length, sent);

    // A wrong key: the model list says so, and the WebSocket is refused at the upgrade.
    await page.getByLabel('API key').fill('wrong');
    await page.getByLabel('API key').press('Enter');
    await page.locator('#server-error:not([hidden])').waitFor();
    assert.match(await page.locator('#server-error').innerText(), /Missing or invalid API key/);
    turn = await ask(page, 'hi', { extra: '' });
    assert.match(await turn.locator('.run-error').innerText(), /Could not open the WebSocket/);

    // The right key again: everything works on.
    await page.getByLabel('API key').fill(KEY);
    await page.getByLabel('API key').press('Enter');
    await page.locator('#server-error').waitFor({ state: 'hidden' });
    turn = await ask(page, 'hi', {});
    assert.equal(await turn.locator('.run').getAttribute('data-status'), 'done');
    await page.close();
  });

  it('no page asked anything of another origin, nor put the key in a URL', () => {
    assert.deepEqual(outside, []);
    assert.ok(
      requested.some((u) => u.endsWith('/v1/stream')),
      'the WebSockets were seen',
    );
    for (const url of requested) {
      assert.ok(url.startsWith(live.url.replace(/^http/, 'ws')) || url.startsWith(live.url), url);
      assert.ok(!url.includes(KEY), url);
    }
  });
});
