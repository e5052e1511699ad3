import type { Engine } from '../../engine/types.ts';
import type { ApiConfig } from '../config.ts';
import type { RequestMetrics } from '../metrics/metrics.ts';

/** What every service needs: the engine, the parsed configuration and (optionally) metrics. */
export interface ApiContext {
  readonly engine: Engine;
  readonly config: ApiConfig;
  readonly metrics: RequestMetrics | null;
}
