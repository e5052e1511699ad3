import { nowMs } from '../stats.ts';
import type { Outcome } from './client.ts';

/**
 * Progress of a run on stderr: a redrawn bar when stderr is a terminal, otherwise one plain line
 * every 10 s (a short run prints nothing).
 */

export interface Progress {
  /** A request has ended. */
  ended(outcome: Outcome): void;
  /** The run is over: clears the bar. */
  finish(): void;
}

const WIDTH = 30;
const PLAIN_EVERY_MS = 10_000;
const REDRAW_EVERY_MS = 100;

/**
 * @example const progress = stderrProgress(200); … progress.ended(r.outcome); … progress.finish();
 */
export function stderrProgress(
  total: number,
  stream: NodeJS.WriteStream = process.stderr,
  label = 'bench serve',
): Progress {
  const counts: Record<Outcome, number> = { ok: 0, error: 0, cancelled: 0, timeout: 0, lost: 0 };
  const start = nowMs();
  let done = 0;
  let lastPrint = start;
  const line = () => {
    const failed = counts.error + counts.timeout + counts.lost;
    const s = ((nowMs() - start) / 1000).toFixed(1);
    return `${done}/${total} ok ${counts.ok} failed ${failed} cancelled ${counts.cancelled} ${s} s`;
  };
  const tty = stream.isTTY === true;
  return {
    ended(outcome) {
      counts[outcome]++;
      done++;
      const now = nowMs();
      if (tty && (now - lastPrint >= REDRAW_EVERY_MS || done === total)) {
        const filled = Math.round((done / total) * WIDTH);
        stream.write(`\r[${'#'.repeat(filled)}${'.'.repeat(WIDTH - filled)}] ${line()}\x1b[K`);
        lastPrint = now;
      } else if (!tty && now - lastPrint >= PLAIN_EVERY_MS) {
        stream.write(`${label}: ${line()}\n`);
        lastPrint = now;
      }
    },
    finish() {
      if (tty) stream.write('\r\x1b[K');
    },
  };
}
