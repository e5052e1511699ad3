/**
 * Browser-usable WebSocket authentication. A browser's `WebSocket` cannot set an `Authorization`
 * header, and a key in the URL (`?api_key=`) ends up in access logs, proxies and history. So, as
 * Kubernetes does for its API server, the key travels in the one header a browser does let a
 * page set: `Sec-WebSocket-Protocol`. The client offers two subprotocols,
 *
 *     new WebSocket(url, ['reverie.v1', 'reverie.bearer.' + base64url(key)])
 *
 * and the server checks the key and selects `reverie.v1`: the protocol it echoes back is never the
 * token (a server that echoed the first offered protocol, as `ws` does by default, would).
 */

/** The protocol the server selects; clients that offer a bearer token must offer it too. */
export const WS_PROTOCOL = 'reverie.v1';

/** Prefix of the subprotocol that carries the key, base64url-encoded (no padding: `=` is not allowed there). */
export const BEARER_PROTOCOL_PREFIX = 'reverie.bearer.';

/** The subprotocols a client offered (`Sec-WebSocket-Protocol` is a comma-separated list). */
export function offeredProtocols(header: string | string[] | undefined): string[] {
  const text = Array.isArray(header) ? header.join(',') : (header ?? '');
  return text
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
}

/** What the upgrade request presents as credentials. */
export type UpgradeCredentials =
  | { ok: true; authorization: string | undefined }
  | { ok: false; message: string };

/**
 * The `Authorization` value to check for an upgrade: the header when there is one, else the bearer
 * subprotocol's key. A bearer subprotocol without `reverie.v1` beside it is refused: the server
 * would have no protocol to select but the token itself.
 * @example upgradeCredentials({ 'sec-websocket-protocol': 'reverie.v1, reverie.bearer.azE' }) // Bearer k1
 */
export function upgradeCredentials(headers: {
  authorization?: string;
  'sec-websocket-protocol'?: string | string[];
}): UpgradeCredentials {
  const offered = offeredProtocols(headers['sec-websocket-protocol']);
  const tokens = offered.filter((p) => p.startsWith(BEARER_PROTOCOL_PREFIX));
  if (tokens.length > 0 && !offered.includes(WS_PROTOCOL)) {
    return {
      ok: false,
      message: `A ${BEARER_PROTOCOL_PREFIX}<key> subprotocol must be offered with the ${WS_PROTOCOL} subprotocol`,
    };
  }
  if (tokens.length > 1) return { ok: false, message: `More than one ${BEARER_PROTOCOL_PREFIX} subprotocol` };
  if (headers.authorization !== undefined || tokens.length === 0) {
    return { ok: true, authorization: headers.authorization };
  }
  const key = Buffer.from(tokens[0]!.slice(BEARER_PROTOCOL_PREFIX.length), 'base64url').toString('utf8');
  return { ok: true, authorization: `Bearer ${key}` };
}

/**
 * `ws`'s `handleProtocols`: select `reverie.v1` when offered, else none (a client that offered only
 * other protocols then fails the handshake, as RFC 6455 says). Never a bearer token.
 */
export function selectProtocol(protocols: Set<string>): string | false {
  return protocols.has(WS_PROTOCOL) ? WS_PROTOCOL : false;
}
