/**
 * The part of xk6-sse (github.com/phymbert/xk6-sse) these scripts use: `k6/x/sse` is only present
 * in a k6 binary built with that extension (see docker/k6.Dockerfile).
 */
declare module 'k6/x/sse' {
  export interface SseEvent {
    id: string;
    name: string;
    data: string;
  }
  export interface SseError {
    error(): string;
  }
  export interface SseClient {
    on(event: 'open', handler: () => void): void;
    on(event: 'event', handler: (event: SseEvent) => void): void;
    on(event: 'error', handler: (error: SseError) => void): void;
    close(): void;
  }
  export interface SseParams {
    method?: string;
    body?: string;
    headers?: Record<string, string>;
    tags?: Record<string, string>;
  }
  export interface SseResponse {
    status: number;
    headers: Record<string, string>;
    url: string;
    error: string;
  }
  const sse: {
    open(url: string, params: SseParams, callback: (client: SseClient) => void): SseResponse;
  };
  export default sse;
}
