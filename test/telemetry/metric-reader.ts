import type { Attributes } from '@opentelemetry/api';
import {
  AggregationTemporality,
  type DataPoint,
  type Histogram,
  InMemoryMetricExporter,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';

/** A metric reader for tests: `snapshot()` collects every instrument's points on demand. */
export class TestMetrics {
  readonly reader = new PeriodicExportingMetricReader({
    exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE),
    exportIntervalMillis: 3_600_000,
  });

  async snapshot(): Promise<Snapshot> {
    const { resourceMetrics } = await this.reader.collect();
    const points = new Map<string, DataPoint<unknown>[]>();
    for (const scope of resourceMetrics.scopeMetrics)
      for (const m of scope.metrics) points.set(m.descriptor.name, m.dataPoints as DataPoint<unknown>[]);
    return new Snapshot(points);
  }
}

const matches = (attrs: Attributes, filter: Attributes) =>
  Object.entries(filter).every(([k, v]) => attrs[k] === v);

export class Snapshot {
  constructor(readonly points: Map<string, DataPoint<unknown>[]>) {}

  #select(name: string, filter: Attributes): DataPoint<unknown>[] {
    return (this.points.get(name) ?? []).filter((p) => matches(p.attributes, filter));
  }

  /** Sum of a counter's points whose attributes include `filter`. */
  total(name: string, filter: Attributes = {}): number {
    return this.#select(name, filter).reduce((s, p) => s + (p.value as number), 0);
  }

  /** Recorded values of a histogram (count, sum) over points matching `filter`. */
  histogram(name: string, filter: Attributes = {}): { count: number; sum: number } {
    let count = 0;
    let sum = 0;
    for (const p of this.#select(name, filter)) {
      const h = p.value as Histogram;
      count += h.count;
      sum += h.sum ?? 0;
    }
    return { count, sum };
  }
}
