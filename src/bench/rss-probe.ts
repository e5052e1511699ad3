import { readFileSync } from 'node:fs';
import { parseModelConfig } from '../model/hf-config.ts';
import { ModelRunner } from '../model/runner.ts';

/**
 * Run as its own process by `bench runtime` (`node --import tsx rss-probe.ts MODEL CONFIG`): opens
 * one graph, prefills a 512-token prompt and decodes 16 tokens, then prints the process's peak
 * resident memory as JSON. A process of its own, so each graph's peak is its own.
 */
const [modelPath, configPath] = process.argv.slice(2);
if (!modelPath || !configPath) throw new Error('usage: rss-probe.ts MODEL.onnx config.json');
const cfg = parseModelConfig(JSON.parse(readFileSync(configPath, 'utf8')));
const runner = await ModelRunner.open(modelPath, cfg);
const prompt = Int32Array.from({ length: 512 }, (_, i) => (i * 7919) % cfg.vocabSize);
await runner.step({ rows: [{ seq: 0, count: prompt.length, bagSize: 1, ids: prompt }] });
for (let i = 0; i < 16; i++)
  await runner.step({ rows: [{ seq: 0, count: 1, bagSize: 1, ids: Int32Array.of(i) }] });
await runner.close();
// VmHWM, not getrusage's maxRSS: Linux carries ru_maxrss over from the parent across fork and
// exec, so a probe spawned by a large bench process would report the parent's peak.
const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
const peakRssBytes = hwm ? Number(hwm[1]) * 1024 : process.resourceUsage().maxRSS * 1024;
console.log(JSON.stringify({ peakRssBytes }));
