// Helpers of scripts/gpu-check.sh (plain Node, no dependencies: it runs on the GPU machine).
//
//   node scripts/gpu-compare.mjs text CPU_URL GPU_URL   greedy completions from both servers, compared
//   node scripts/gpu-compare.mjs summary OUT_DIR MODEL  one JSON object of the figures issue 15 asks for
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** HBM3e bandwidth of one H200 (NVIDIA's data sheet: 4.8 TB/s). */
const H200_BYTES_PER_S = 4.8e12;

const PROMPTS = [
  'The quick brown fox',
  'Edges: A>B B>C. Root A. Reachable: C or D?',
  'Compute 345+78.',
  'Once upon a time',
  'def fib(n):',
  '1, 2, 3, 4,',
  'Soft thinking feeds',
  'What is the capital of',
];

async function complete(url, prompt) {
  const model = (await (await fetch(`${url}/v1/models`)).json()).data[0].id;
  const res = await fetch(`${url}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      model,
      prompt,
      max_tokens: 32,
      temperature: 0,
      ignore_eos: true,
      skip_special_tokens: false,
      logprobs: 1,
    }),
  });
  const body = await res.json();
  if (!res.ok) throw new Error(`${url}: ${res.status} ${JSON.stringify(body)}`);
  const choice = body.choices[0];
  return { text: choice.text, tokens: choice.logprobs.tokens, logprobs: choice.logprobs.token_logprobs };
}

async function text(cpuUrl, gpuUrl) {
  const rows = [];
  for (const prompt of PROMPTS) {
    const [cpu, gpu] = await Promise.all([complete(cpuUrl, prompt), complete(gpuUrl, prompt)]);
    let same = 0;
    while (same < cpu.tokens.length && cpu.tokens[same] === gpu.tokens[same]) same++;
    // Log-probabilities of the tokens both chose: how far the two providers' logits are apart.
    let maxDiff = 0;
    for (let i = 0; i < same; i++) maxDiff = Math.max(maxDiff, Math.abs(cpu.logprobs[i] - gpu.logprobs[i]));
    rows.push({ prompt, identical: cpu.text === gpu.text, sameTokens: same, of: cpu.tokens.length, maxLogprobDiff: maxDiff });
  }
  const identical = rows.filter((r) => r.identical).length;
  console.log(JSON.stringify({ identical, prompts: rows.length, rows }, null, 2));
}

function readJson(path) {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return null;
  }
}

function figures(report) {
  if (!report) return null;
  return {
    completed: report.completed,
    failed: report.failed,
    outputTokPerS: report.outputThroughput,
    ttftMedianMs: report.ttftMs.median,
    tpotMedianMs: report.tpotMs.median,
  };
}

function summary(outDir, modelDir) {
  const weightBytes = readdirSync(modelDir)
    .filter((f) => /^model.*\.onnx\.data$/.test(f))
    .reduce((n, f) => Math.max(n, statSync(join(modelDir, f)).size), 0);
  const mem = readFileSync(join(outDir, 'gpu-mem.txt'), 'utf8')
    .split('\n')
    .map(Number)
    .filter((x) => Number.isFinite(x) && x > 0);
  const runs = Object.fromEntries(
    ['gpu-c1', 'gpu-c32', 'cpu-c1', 'cpu-c32'].map((tag) => [tag, figures(readJson(join(outDir, `bench-${tag}.json`)))]),
  );
  const tpot = runs['gpu-c1']?.tpotMedianMs;
  // Batch-1 decode reads every weight once per token (the KV of ≤ 100 positions is negligible).
  const bandwidthShare = tpot ? weightBytes / (tpot / 1000) / H200_BYTES_PER_S : null;
  const compare = readJson(join(outDir, 'compare.json'));
  // reverie_kv_resident_steps_total / reverie_kv_settles_total: how much of the decode kept its KV on the GPU.
  let metrics = '';
  try {
    metrics = readFileSync(join(outDir, 'gpu-metrics.txt'), 'utf8');
  } catch {}
  const metric = (name) => {
    const m = metrics.match(new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+]+)$`, 'm'));
    return m ? Number(m[1]) : null;
  };
  console.log(
    JSON.stringify(
      {
        weightBytes,
        gpuMemoryMiB: mem.length ? { min: Math.min(...mem), max: Math.max(...mem) } : null,
        runs,
        batch1DecodeBandwidthShare: bandwidthShare,
        greedyText: compare ? { identical: compare.identical, prompts: compare.prompts } : null,
        residentKv: { residentSteps: metric('reverie_kv_resident_steps_total'), settles: metric('reverie_kv_settles_total') },
      },
      null,
      2,
    ),
  );
}

const [command, ...args] = process.argv.slice(2);
if (command === 'text') await text(args[0], args[1]);
else if (command === 'summary') summary(args[0], args[1]);
else {
  console.error('usage: gpu-compare.mjs text CPU_URL GPU_URL | summary OUT_DIR MODEL_DIR');
  process.exit(2);
}
