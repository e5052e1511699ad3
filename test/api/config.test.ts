import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  ENGINE_ENV,
  type EngineKnobs,
  parseApiConfig,
  parseServerConfig,
  SERVER_ENV,
  type ServerConfig,
} from '../../src/api/config.ts';
import { parseEngineOptions } from '../../src/engine/config.ts';

/** `reverie serve`'s configuration: flags and `REVERIE_*` variables, parsed once with zod. */

/** A value for every variable, unlike its default, and what the parsed config must then hold. */
const SERVER_CASES: Record<keyof typeof SERVER_ENV, [string, unknown]> = {
  host: ['0.0.0.0', '0.0.0.0'],
  port: ['9001', 9001],
  modelsDir: ['/srv/models', '/srv/models'],
  device: ['cuda', 'cuda'],
  apiKeys: ['a, b', ['a', 'b']],
  maxBodyBytes: ['2048', 2048],
  retryAfterSeconds: ['5', 5],
  maxDrafts: ['4', 4],
  maxN: ['3', 3],
  wsMaxConcurrent: ['2', 2],
  wsMaxBufferedBytes: ['65536', 65536],
  wsHeartbeatMs: ['50', 50],
  playground: ['false', false],
  allowedOrigins: ['["https://a.example", "https://b.example"]', ['https://a.example', 'https://b.example']],
  allowedMethods: ['GET, POST', ['GET', 'POST']],
  allowedHeaders: ['authorization', ['authorization']],
  allowCredentials: ['true', true],
  metricsRequireKey: ['true', true],
  toolCallParser: ['llama3_json', 'llama3_json'],
  shutdownTimeoutMs: ['1000', 1000],
};
const ENGINE_CASES: Record<keyof typeof ENGINE_ENV, [string, unknown]> = {
  maxNumSeqs: ['8', 8],
  maxBatchedTokens: ['128', 128],
  kvBudgetBytes: ['1048576', 1048576],
  maxModelLen: ['256', 256],
  queueLimit: ['0', 0],
  prefixCache: ['false', false],
  kvDtype: ['float16', 'float16'],
  residentKv: ['true', true],
  maxBufferedEvents: ['64', 64],
  stallTimeoutMs: ['5000', 5000],
  threads: ['2', 2],
  quantization: ['INT4', 'int4'],
};

/** Values each variable must refuse (a number where text is fine is not among them). */
const BAD: Record<string, string[]> = {
  PORT: ['eighty', '70000'],
  REVERIE_DEVICE: ['tpu'],
  REVERIE_MAX_BODY_BYTES: ['abc', '0', '1.5'],
  REVERIE_RETRY_AFTER_SECONDS: ['-1'],
  REVERIE_MAX_DRAFTS: ['65'],
  REVERIE_MAX_N: ['129'],
  REVERIE_WS_MAX_CONCURRENT: ['0'],
  REVERIE_WS_MAX_BUFFERED_BYTES: ['lots'],
  REVERIE_WS_HEARTBEAT_MS: ['1e-3'],
  REVERIE_PLAYGROUND: ['0', 'off'],
  REVERIE_ALLOWED_ORIGINS: ['[]', '[1]', '["unclosed"', ','],
  REVERIE_ALLOWED_METHODS: ['[""]'],
  REVERIE_ALLOWED_HEADERS: ['[null]'],
  REVERIE_ALLOW_CREDENTIALS: ['yes'],
  REVERIE_METRICS_REQUIRE_KEY: ['1'],
  REVERIE_TOOL_CALL_PARSER: ['pythonic', 'hermes,llama3_json'],
  REVERIE_SHUTDOWN_TIMEOUT_MS: ['soon'],
  REVERIE_MAX_NUM_SEQS: ['abc', '0', 'true'],
  REVERIE_MAX_BATCHED_TOKENS: ['2.5'],
  REVERIE_KV_BUDGET_BYTES: ['2GiB'],
  REVERIE_MAX_MODEL_LEN: ['-4'],
  REVERIE_QUEUE_LIMIT: ['-1'],
  REVERIE_PREFIX_CACHE: ['0', 'maybe'],
  REVERIE_RESIDENT_KV: ['1', 'maybe'],
  REVERIE_KV_DTYPE: ['fp8', '16'],
  REVERIE_MAX_BUFFERED_EVENTS: ['1', 'many'],
  REVERIE_STALL_TIMEOUT_MS: ['0', '30s'],
  REVERIE_THREADS: ['all'],
  REVERIE_QUANTIZATION: ['int3', 'fp8', '4'],
};

describe('server configuration from flags and REVERIE_* variables', () => {
  it('defaults: the API schema and the engine schema, unchanged; frozen', () => {
    const config = parseServerConfig({}, {});
    const {
      checkpointDirs: _,
      device: __,
      ...engineDefaults
    } = parseEngineOptions({ checkpointDirs: ['x'] });
    assert.deepEqual(config.engine, engineDefaults);
    assert.deepEqual(
      { ...config, engine: undefined },
      {
        ...parseApiConfig(),
        host: '127.0.0.1',
        port: 8000,
        device: 'cpu',
        shutdownTimeoutMs: 30_000,
        engine: undefined,
      },
    );
    assert.equal(config.engine.maxNumSeqs, 64);
    assert.equal(config.engine.threads, undefined, 'all cores');
    assert.ok(Object.isFrozen(config) && Object.isFrozen(config.engine));
  });

  it('honours every variable', () => {
    for (const [key, [text, want]] of Object.entries(SERVER_CASES)) {
      const variable = SERVER_ENV[key as keyof typeof SERVER_ENV];
      const config = parseServerConfig({}, { [variable]: text });
      assert.deepEqual(config[key as keyof ServerConfig], want, variable);
      assert.notDeepEqual(
        parseServerConfig({}, {})[key as keyof ServerConfig],
        want,
        `${variable}: not the default`,
      );
    }
    for (const [key, [text, want]] of Object.entries(ENGINE_CASES)) {
      const variable = ENGINE_ENV[key as keyof typeof ENGINE_ENV];
      const config = parseServerConfig({}, { [variable]: text });
      assert.deepEqual(config.engine[key as keyof EngineKnobs], want, variable);
      assert.notDeepEqual(parseServerConfig({}, {}).engine[key as keyof EngineKnobs], want, variable);
    }
  });

  it('flags override the environment; empty values count as unset', () => {
    const config = parseServerConfig(
      { port: '9001', maxNumSeqs: '4' },
      {
        PORT: '8080',
        HOST: '0.0.0.0',
        REVERIE_MAX_NUM_SEQS: '32',
        REVERIE_QUEUE_LIMIT: ' ',
        REVERIE_MAX_N: '',
      },
    );
    assert.equal(config.port, 9001);
    assert.equal(config.host, '0.0.0.0');
    assert.equal(config.engine.maxNumSeqs, 4);
    assert.equal(config.engine.queueLimit, 256);
    assert.equal(config.maxN, 16);
    assert.equal(parseServerConfig({}, { REVERIE_PREFIX_CACHE: 'TRUE' }).engine.prefixCache, true);
  });

  it('a bad value is an error naming its variable (or flag) and the value', () => {
    const all = [...Object.values(SERVER_ENV), ...Object.values(ENGINE_ENV)];
    for (const variable of all.filter((v) => !['HOST', 'MODELS_DIR', 'REVERIE_API_KEYS'].includes(v))) {
      assert.ok(BAD[variable], `a bad value for ${variable}`);
    }
    for (const [variable, values] of Object.entries(BAD)) {
      for (const value of values) {
        assert.throws(
          () => parseServerConfig({}, { [variable]: value }),
          (e: Error) => e.message.startsWith(`invalid setting ${variable}="${value}": `),
          `${variable}=${value}`,
        );
      }
    }
    assert.throws(
      () => parseServerConfig({ maxNumSeqs: 'x' }, {}),
      /^Error: invalid setting --max-num-seqs "x"/,
    );
    assert.throws(() => parseServerConfig({ device: 'tpu' }, {}), /--device "tpu"/);
    assert.throws(() => parseServerConfig({ allowedOrigins: '[]' }, {}), /--allowed-origins "\[\]"/);
  });

  it("the README's serving table lists every variable with its default", () => {
    const readme = readFileSync(join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');
    const defaults = parseServerConfig({}, {});
    const rows = [
      ...Object.entries(SERVER_ENV).map(([key, v]) => [v, defaults[key as keyof ServerConfig]] as const),
      ...Object.entries(ENGINE_ENV).map(
        ([key, v]) => [v, defaults.engine[key as keyof EngineKnobs]] as const,
      ),
    ];
    for (const [variable, value] of rows) {
      const row = readme.split('\n').find((l) => l.includes(`| \`${variable}\` |`));
      assert.ok(row, `README row for ${variable}`);
      if (typeof value === 'number' || typeof value === 'string' || typeof value === 'boolean') {
        assert.ok(row.split('|')[3]!.includes(`\`${value}\``), `${variable}: default ${value} in "${row}"`);
      }
    }
  });
});
