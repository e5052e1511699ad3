import { z } from 'zod';
import { chatCompletionRequestSchema } from '../chat-completions/schema.ts';
import { completionRequestSchema } from '../completions/schema.ts';
import { errorBodySchema } from '../errors.ts';
import { modelListSchema } from '../models/schema.ts';
import {
  responseCreateRequestSchema,
  responseObjectSchema,
  responseStreamEventSchema,
} from '../responses/schema.ts';
import {
  detokenizeRequestSchema,
  detokenizeResponseSchema,
  tokenizeChatRequestSchema,
  tokenizePromptRequestSchema,
  tokenizeResponseSchema,
} from '../tokenize/schema.ts';
import { versionSchema } from '../version/route.ts';
import { clientMessageSchema, serverMessageSchema } from '../ws/protocol.ts';

/**
 * The OpenAPI document, generated from the same zod schemas that validate requests (importing
 * them registers every schema with an `id` in zod's global registry). `npm run openapi` writes
 * it to openapi.yaml; a test fails when the committed file differs.
 */

// Referenced so that the imports above are kept: each module registers its schemas on import.
const ROOTS = [
  chatCompletionRequestSchema,
  completionRequestSchema,
  responseCreateRequestSchema,
  responseObjectSchema,
  responseStreamEventSchema,
  errorBodySchema,
  modelListSchema,
  clientMessageSchema,
  serverMessageSchema,
  tokenizePromptRequestSchema,
  tokenizeChatRequestSchema,
  tokenizeResponseSchema,
  detokenizeRequestSchema,
  detokenizeResponseSchema,
  versionSchema,
];

const ref = (id: string) => ({ $ref: `#/components/schemas/${id}` });
const json = (id: string) => ({ 'application/json': { schema: ref(id) } });

function errors(...statuses: number[]) {
  const what: Record<number, string> = {
    400: 'Invalid request: bad JSON, wrong type, out-of-range value, unsupported parameter (`param` names it)',
    401: 'Missing or invalid API key (when REVERIE_API_KEYS is set)',
    404: 'Unknown model',
    405: 'Known path, other method: `Allow` lists the methods',
    413: 'Request body over the limit',
    429: 'Queue full: retry after `Retry-After` seconds',
    500: 'Internal error',
    503: 'The engine is not running',
  };
  return Object.fromEntries(
    statuses.map((s) => [String(s), { description: what[s], content: json('Error') }]),
  );
}

/** Every response answers the request's X-Request-Id (or a new one); generations use it in their id. */
const REQUEST_ID_HEADER = {
  name: 'X-Request-Id',
  in: 'header',
  required: false,
  schema: { type: 'string', maxLength: 256 },
  description: 'Echoed in the response header and used as the id suffix (`chatcmpl-<X-Request-Id>`), as vLLM',
};

/** Answered when the request had fields the server ignored (unknown top-level fields, as vLLM ignores them). */
const IGNORED_FIELDS = {
  schema: { type: 'string' },
  description: 'the ignored fields, comma-separated (absent when none)',
};

function generationPath(
  summary: string,
  request: string,
  response: string,
  chunk: string,
  description = 'The completion (JSON), or with `stream: true` server-sent events: `data: {chunk}` lines, then `data: [DONE]`',
) {
  return {
    post: {
      summary,
      parameters: [REQUEST_ID_HEADER],
      requestBody: { required: true, content: json(request) },
      responses: {
        '200': {
          description,
          headers: {
            'X-Request-Id': { schema: { type: 'string' } },
            'X-Reverie-Ignored-Fields': IGNORED_FIELDS,
          },
          content: { ...json(response), 'text/event-stream': { schema: ref(chunk) } },
        },
        ...errors(400, 401, 404, 405, 413, 429, 500, 503),
      },
    },
  };
}

/** Every schema with an id, as OpenAPI 3.1 components (JSON Schema 2020-12). */
function componentSchemas(): Record<string, unknown> {
  void ROOTS;
  const { schemas } = z.toJSONSchema(z.globalRegistry, {
    target: 'draft-2020-12',
    uri: (id) => `#/components/schemas/${id}`,
  });
  const out: Record<string, unknown> = {};
  for (const id of Object.keys(schemas).sort()) {
    const { $schema: _s, $id: _i, ...schema } = schemas[id] as Record<string, unknown>;
    out[id] = schema;
  }
  return out;
}

export function openApiDocument(): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: {
      title: 'reverie',
      version: '0.1.0',
      description:
        'OpenAI-compatible inference API with soft thinking (`thinking`) and superposed decoding (`superposition`). ' +
        'Generated from the zod request schemas by `npm run openapi`; do not edit by hand.',
    },
    servers: [{ url: 'http://127.0.0.1:8000' }],
    security: [{ bearer: [] }],
    paths: {
      '/v1/chat/completions': generationPath(
        'Chat completion',
        'ChatCompletionRequest',
        'ChatCompletion',
        'ChatCompletionChunk',
      ),
      '/v1/completions': generationPath('Text completion', 'CompletionRequest', 'Completion', 'Completion'),
      '/v1/responses': generationPath(
        "OpenAI's Responses API (stateless; no tools yet)",
        'ResponseCreateRequest',
        'Response',
        'ResponseStreamEvent',
        'The response object (JSON), or with `stream: true` server-sent events named by their type (`event:` and `data:` lines), ending with `response.completed` or `response.incomplete`',
      ),
      '/v1/models': {
        get: {
          summary: 'Served models, the default first, with their manifest summary',
          responses: { '200': { description: 'Model list', content: json('ModelList') }, ...errors(401) },
        },
      },
      '/v1/models/{id}': {
        get: {
          summary: 'One served model',
          parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
          responses: { '200': { description: 'The model', content: json('Model') }, ...errors(401, 404) },
        },
      },
      '/tokenize': {
        post: {
          summary: "Prompt or chat messages to token ids (vLLM's /tokenize)",
          requestBody: {
            required: true,
            content: {
              'application/json': {
                schema: { oneOf: [ref('TokenizePromptRequest'), ref('TokenizeChatRequest')] },
              },
            },
          },
          responses: {
            '200': { description: 'The ids', content: json('TokenizeResponse') },
            ...errors(400, 401, 404, 413, 503),
          },
        },
      },
      '/detokenize': {
        post: {
          summary: "Token ids to text (vLLM's /detokenize)",
          requestBody: { required: true, content: json('DetokenizeRequest') },
          responses: {
            '200': { description: 'The text', content: json('DetokenizeResponse') },
            ...errors(400, 401, 404, 413, 503),
          },
        },
      },
      '/version': {
        get: {
          summary: "reverie's version (as vLLM's /version)",
          security: [],
          responses: { '200': { description: 'The version', content: json('Version') } },
        },
      },
      '/health': {
        get: {
          summary: 'Readiness: 200 when the engine is ready, 503 while loading or after it died',
          security: [],
          responses: {
            '200': { description: 'Ready' },
            '503': { description: 'Loading, closed or dead' },
          },
        },
      },
      '/metrics': {
        get: {
          summary: "Prometheus metrics (text exposition format), with vLLM's `vllm:` names beside reverie's",
          description:
            'Open by default, as vLLM serves it; REVERIE_METRICS_REQUIRE_KEY=true asks for the key.',
          security: [],
          responses: {
            '200': { description: 'Metrics', content: { 'text/plain': { schema: { type: 'string' } } } },
            ...errors(401),
          },
        },
      },
      '/playground/': {
        get: {
          summary:
            'The browser playground (HTML; `/` and `/playground` redirect here; off with REVERIE_PLAYGROUND=false)',
          description:
            'Static files served without a key under a strict Content-Security-Policy; the page sends the key ' +
            'it is given with its own API calls.',
          security: [],
          responses: {
            '200': { description: 'The page', content: { 'text/html': { schema: { type: 'string' } } } },
          },
        },
      },
      '/v1/stream': {
        get: {
          summary:
            'WebSocket: multiplexed chat requests with a live reasoning stream (see docs/websocket.md)',
          description:
            'Upgrade to a WebSocket. With API keys, send the key as `Authorization: Bearer <key>`, or from a ' +
            'browser (which cannot set headers) as the subprotocols `reverie.v1` and ' +
            '`reverie.bearer.<base64url of the key, unpadded>`: the server selects `reverie.v1`, never the token. ' +
            'Client messages: `WsClientMessage`; server messages: `WsServerMessage`. Several requests run at ' +
            'once, told apart by the client id.',
          parameters: [
            {
              name: 'Sec-WebSocket-Protocol',
              in: 'header',
              required: false,
              schema: { type: 'string' },
              example: 'reverie.v1, reverie.bearer.c2VjcmV0',
              description:
                'Offer `reverie.v1` (selected when offered) and, from browsers, the key as `reverie.bearer.<base64url>`',
            },
          ],
          responses: {
            '101': { description: 'Switching protocols' },
            '400': {
              description: 'A `reverie.bearer.` subprotocol without `reverie.v1`, or two of them',
              content: json('Error'),
            },
            ...errors(401),
          },
          'x-websocket': {
            client: ref('WsClientMessage'),
            server: ref('WsServerMessage'),
          },
        },
      },
    },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: componentSchemas(),
    },
  };
}
