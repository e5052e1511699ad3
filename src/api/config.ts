import { z } from 'zod';
import { engineOptionsSchema } from '../engine/config.ts';
import { DEVICES } from '../model/execution-provider.ts';
import { TOOL_CALL_PARSERS } from './tool-calls/index.ts';

/**
 * Server configuration, parsed once from the environment and the command line into a frozen
 * object. Values discovered at run time (the bound port, loaded models) live elsewhere.
 */

const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().positive();
const bool = z.union([z.boolean(), z.stringbool({ truthy: ['true'], falsy: ['false'] })], {
  error: 'expected true or false',
});
/** CORS lists: `*` for any (vLLM's default for all three). */
const corsList = z.array(z.string().min(1)).min(1).default(['*']);

/** The API layer's own limits (what `createApp` needs). */
export const apiConfigSchema = z.object({
  /** Bearer keys; empty = no authentication. */
  apiKeys: z.array(z.string().min(1)).default([]),
  /** Largest accepted request body (HTTP) or WebSocket message, in bytes. */
  maxBodyBytes: positiveInt.default(1 << 20),
  /** Retry-After (seconds) sent with 429 when the engine's queue is full. */
  retryAfterSeconds: positiveInt.default(1),
  /** Most superposed drafts one request may ask for. */
  maxDrafts: positiveInt.max(64).default(16),
  /** Most parallel samples (`n`) one request may ask for. */
  maxN: positiveInt.max(128).default(16),
  /** WebSocket: concurrent requests per connection. */
  wsMaxConcurrent: positiveInt.default(8),
  /** WebSocket: bytes the server may have queued for a slow reader before it cancels its requests. */
  wsMaxBufferedBytes: positiveInt.default(4 << 20),
  /** WebSocket: ping interval; a connection that misses a pong is closed. */
  wsHeartbeatMs: positiveInt.default(30_000),
  /** Serve the browser playground at `/playground/` (`/` redirects there). */
  playground: bool.default(true),
  /** CORS, as vLLM's flags: origins allowed to read responses (`*`: any). */
  allowedOrigins: corsList,
  allowedMethods: corsList,
  allowedHeaders: corsList,
  /** `Access-Control-Allow-Credentials: true` (with `*` origins, the request's origin is echoed). */
  allowCredentials: bool.default(false),
  /** `/metrics` needs the API key too (default: open, as vLLM serves it, so Prometheus scrapes). */
  metricsRequireKey: bool.default(false),
  /**
   * vLLM's `--tool-call-parser`: how `tool_choice: "auto"` reads calls from the answer. `auto`
   * (default) picks each model's from its chat template (`<tool_call>` → hermes, Llama 3.1's JSON
   * → llama3_json); `none` turns auto tool choice off.
   */
  toolCallParser: z
    .enum(['auto', 'none', ...Object.keys(TOOL_CALL_PARSERS)] as [string, ...string[]])
    .default('auto'),
});
export type ApiConfig = Readonly<z.infer<typeof apiConfigSchema>>;

/** The engine knobs `reverie serve` takes (all but the checkpoints and the device), by the engine's rules. */
export const engineKnobsSchema = engineOptionsSchema.omit({ checkpointDirs: true, device: true });
export type EngineKnobs = Readonly<z.infer<typeof engineKnobsSchema>>;

/** Everything `reverie serve` needs. */
export const serverConfigSchema = apiConfigSchema.extend({
  host: z.string().min(1).default('127.0.0.1'),
  port: port.default(8000),
  modelsDir: z.string().min(1).optional(),
  device: z.enum(DEVICES).default('cpu'),
  /** How long SIGTERM waits for in-flight requests before cutting them off. */
  shutdownTimeoutMs: positiveInt.default(30_000),
  /** Passed to `createEngine` with the checkpoints and the device. */
  engine: engineKnobsSchema.prefault({}),
});
export type ServerConfig = Readonly<z.infer<typeof serverConfigSchema>>;

/** The environment variable of every server setting (the README's serving table lists them). */
export const SERVER_ENV = {
  host: 'HOST',
  port: 'PORT',
  modelsDir: 'MODELS_DIR',
  device: 'REVERIE_DEVICE',
  apiKeys: 'REVERIE_API_KEYS',
  maxBodyBytes: 'REVERIE_MAX_BODY_BYTES',
  retryAfterSeconds: 'REVERIE_RETRY_AFTER_SECONDS',
  maxDrafts: 'REVERIE_MAX_DRAFTS',
  maxN: 'REVERIE_MAX_N',
  wsMaxConcurrent: 'REVERIE_WS_MAX_CONCURRENT',
  wsMaxBufferedBytes: 'REVERIE_WS_MAX_BUFFERED_BYTES',
  wsHeartbeatMs: 'REVERIE_WS_HEARTBEAT_MS',
  playground: 'REVERIE_PLAYGROUND',
  allowedOrigins: 'REVERIE_ALLOWED_ORIGINS',
  allowedMethods: 'REVERIE_ALLOWED_METHODS',
  allowedHeaders: 'REVERIE_ALLOWED_HEADERS',
  allowCredentials: 'REVERIE_ALLOW_CREDENTIALS',
  metricsRequireKey: 'REVERIE_METRICS_REQUIRE_KEY',
  toolCallParser: 'REVERIE_TOOL_CALL_PARSER',
  shutdownTimeoutMs: 'REVERIE_SHUTDOWN_TIMEOUT_MS',
} as const satisfies Record<Exclude<keyof ServerConfig, 'engine'>, string>;

/** The environment variable of every engine knob; `reverie serve` takes each as a flag too. */
export const ENGINE_ENV = {
  maxNumSeqs: 'REVERIE_MAX_NUM_SEQS',
  maxBatchedTokens: 'REVERIE_MAX_BATCHED_TOKENS',
  kvBudgetBytes: 'REVERIE_KV_BUDGET_BYTES',
  maxModelLen: 'REVERIE_MAX_MODEL_LEN',
  queueLimit: 'REVERIE_QUEUE_LIMIT',
  prefixCache: 'REVERIE_PREFIX_CACHE',
  kvDtype: 'REVERIE_KV_DTYPE',
  residentKv: 'REVERIE_RESIDENT_KV',
  maxBufferedEvents: 'REVERIE_MAX_BUFFERED_EVENTS',
  stallTimeoutMs: 'REVERIE_STALL_TIMEOUT_MS',
  threads: 'REVERIE_THREADS',
  quantization: 'REVERIE_QUANTIZATION',
} as const satisfies Record<keyof EngineKnobs, string>;

/** A setting given on the command line, by its config key (`maxNumSeqs` is `--max-num-seqs`). */
export type ServerFlags = Partial<Record<keyof typeof SERVER_ENV | keyof typeof ENGINE_ENV, string>>;

/** The command-line flag of a setting: `maxNumSeqs` → `max-num-seqs`. */
export const flagName = (key: string): string => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** Comma- or whitespace-separated keys (`REVERIE_API_KEYS`). */
export function parseApiKeys(raw: string | undefined): string[] {
  return (raw ?? '')
    .split(/[\s,]+/)
    .map((k) => k.trim())
    .filter((k) => k.length > 0);
}

/** The CORS settings, which are lists. */
const LISTS = new Set<string>(['allowedOrigins', 'allowedMethods', 'allowedHeaders']);

/**
 * A CORS list as vLLM takes it (a JSON list: `["https://a.example"]`) or comma-separated.
 * @example parseList('["https://a.example", "https://b.example"]') // ['https://a.example', 'https://b.example']
 */
export function parseList(raw: string): unknown {
  const text = raw.trim();
  if (text.startsWith('[')) {
    try {
      return JSON.parse(text);
    } catch {
      return text; // the schema then says what is wrong
    }
  }
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/**
 * Parses the API configuration (defaults for everything not given).
 * @example const config = parseApiConfig({ apiKeys: ['secret'] });
 */
export function parseApiConfig(input: Partial<z.input<typeof apiConfigSchema>> = {}): ApiConfig {
  return Object.freeze(apiConfigSchema.parse(input));
}

/**
 * The engine's schema takes typed values: numbers, `true` / `false`, and words (`int8`); a value
 * of the wrong kind fails there, naming the setting.
 */
function knobValue(text: string): number | boolean | string {
  const lower = text.toLowerCase();
  if (lower === 'true' || lower === 'false') return lower === 'true';
  return /^[a-z][a-z0-9-]*$/.test(lower) ? lower : Number(text);
}

/**
 * Server configuration from flags (highest priority) and the environment ({@link SERVER_ENV},
 * {@link ENGINE_ENV}); empty values count as unset.
 * @example parseServerConfig({ port: '9000' }, { REVERIE_MAX_NUM_SEQS: '32' }).engine.maxNumSeqs // 32
 * @throws Error naming the flag or variable and its value
 */
export function parseServerConfig(flags: ServerFlags, env: NodeJS.ProcessEnv = process.env): ServerConfig {
  // Where each given setting came from, by its path in the config, for the error message.
  const origins = new Map<string, string>();
  const given = (path: string, key: keyof ServerFlags, variable: string): string | undefined => {
    const flag = flags[key]?.trim();
    const fromEnv = env[variable]?.trim();
    const text = flag || fromEnv || undefined;
    if (text !== undefined && key !== 'apiKeys') {
      origins.set(path, flag ? `--${flagName(key)} "${flag}"` : `${variable}="${fromEnv}"`);
    }
    return text;
  };
  const raw: Record<string, unknown> = {};
  for (const [key, variable] of Object.entries(SERVER_ENV) as [keyof typeof SERVER_ENV, string][]) {
    const text = given(key, key, variable);
    if (text !== undefined)
      raw[key] = key === 'apiKeys' ? parseApiKeys(text) : LISTS.has(key) ? parseList(text) : text;
  }
  const engine: Record<string, unknown> = {};
  for (const [key, variable] of Object.entries(ENGINE_ENV) as [keyof typeof ENGINE_ENV, string][]) {
    const text = given(`engine.${key}`, key, variable);
    if (text !== undefined) engine[key] = knobValue(text);
  }
  const result = serverConfigSchema.safeParse({ ...raw, engine });
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const path = issue.path.join('.');
    // A list's issue points into it (`allowedOrigins.0`): name the setting that holds it.
    const origin = issue.path
      .map((_, i) => origins.get(issue.path.slice(0, issue.path.length - i).join('.')))
      .find((o) => o !== undefined);
    throw new Error(`invalid setting ${origin ?? path}: ${issue.message}`);
  }
  return Object.freeze({ ...result.data, engine: Object.freeze(result.data.engine) });
}
