import type { Engine } from '../../engine/types.ts';
import type { Telemetry } from '../../telemetry/telemetry.ts';
import type { ApiConfig } from '../config.ts';

/** What every service needs: the engine, the parsed configuration and the server's telemetry. */
export interface ApiContext {
  readonly engine: Engine;
  readonly config: ApiConfig;
  readonly telemetry: Telemetry | null;
}
