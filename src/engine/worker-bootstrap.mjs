// Worker threads start without the parent's programmatic loaders: register tsx, then load the
// TypeScript worker. (A plain `--import tsx` in execArgv would also do, but this works however
// the parent was started.)
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
