import { z } from 'zod';

/**
 * Server configuration, parsed once from the environment and the command line into a frozen
 * object. Values discovered at run time (the bound port, loaded models) live elsewhere.
 */

const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().positive();

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
});
export type ApiConfig = Readonly<z.infer<typeof apiConfigSchema>>;

/** Everything `reverie serve` needs. */
export const serverConfigSchema = apiConfigSchema.extend({
  host: z.string().min(1).default('127.0.0.1'),
  port: port.default(8000),
  modelsDir: z.string().min(1).optional(),
  device: z.enum(['cpu', 'webgpu', 'cuda']).default('cpu'),
  /** How long SIGTERM waits for in-flight requests before cutting them off. */
  shutdownTimeoutMs: positiveInt.default(30_000),
});
export type ServerConfig = Readonly<z.infer<typeof serverConfigSchema>>;

/** Comma- or whitespace-separated keys (`REVERIE_API_KEYS`). */
export function parseApiKeys(raw: string | undefined): string[] {
  return (raw ?? '')
    .split(/[\s,]+/)
    .map((k) => k.trim())
    .filter((k) => k.length > 0);
}

/**
 * Parses the API configuration (defaults for everything not given).
 * @example const config = parseApiConfig({ apiKeys: ['secret'] });
 */
export function parseApiConfig(input: Partial<z.input<typeof apiConfigSchema>> = {}): ApiConfig {
  return Object.freeze(apiConfigSchema.parse(input));
}

/**
 * Server configuration from flags (highest priority) and the environment (`HOST`, `PORT`,
 * `MODELS_DIR`, `REVERIE_DEVICE`, `REVERIE_API_KEYS`, `REVERIE_MAX_BODY_BYTES`,
 * `REVERIE_SHUTDOWN_TIMEOUT_MS`).
 * @throws Error naming the invalid setting
 */
export function parseServerConfig(
  flags: Partial<Record<'host' | 'port' | 'modelsDir' | 'device', string>>,
  env: NodeJS.ProcessEnv = process.env,
): ServerConfig {
  const raw = {
    host: flags.host ?? env.HOST,
    port: flags.port ?? env.PORT,
    modelsDir: flags.modelsDir ?? env.MODELS_DIR,
    device: flags.device ?? env.REVERIE_DEVICE,
    apiKeys: parseApiKeys(env.REVERIE_API_KEYS),
    maxBodyBytes: env.REVERIE_MAX_BODY_BYTES,
    shutdownTimeoutMs: env.REVERIE_SHUTDOWN_TIMEOUT_MS,
  };
  const result = serverConfigSchema.safeParse(
    Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== undefined && v !== '')),
  );
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new Error(`invalid setting ${issue.path.join('.')}: ${issue.message}`);
  }
  return Object.freeze(result.data);
}
