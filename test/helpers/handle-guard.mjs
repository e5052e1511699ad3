import { after } from 'node:test';
import { isMainThread } from 'node:worker_threads';

/**
 * Loaded into every test process (`npm run test:ts`, `--import`): once a file's tests have all
 * run, a process still alive 5 s later is kept up by something a test left open (a worker, a
 * server, a socket, a timer). It then names what is still active and fails, instead of hanging
 * the suite (what `--test-force-exit` used to hide). The timer is unref'd: a process with nothing
 * left exits at once and never sees it. Plain JavaScript, main thread only: worker threads
 * inherit `--import` flags, and the engine's worker must not start a test harness.
 */
if (isMainThread) {
  after(() => {
    setTimeout(() => {
      const resources = process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap');
      process.stderr.write(
        `handle-guard: the test process is still alive 5 s after its tests: ${resources.join(', ')}\n`,
      );
      process.exit(1);
    }, 5_000).unref();
  });
}
