/**
 * Static checks of docker/, deploy/k8s/ and loadtest/: no Docker engine, cluster or k6 binary runs
 * here, so this parses what they declare and checks it against the server's own configuration,
 * routes and metric names.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import { parseServerConfig, serverConfigSchema } from '../../src/api/config.ts';
import { WS_PATH } from '../../src/api/ws/adapter.ts';
import { telemetryConfigFromEnv } from '../../src/telemetry/config.ts';
import { Telemetry } from '../../src/telemetry/telemetry.ts';
import { FakeEngine } from '../api/fake-engine.ts';

const root = resolve(import.meta.dirname, '..', '..');
const dockerDir = join(root, 'docker');
const k8sDir = join(root, 'deploy', 'k8s');
const read = (path: string) => readFileSync(path, 'utf8');
const yamlFile = (path: string) => parse(read(path));

const defaults = serverConfigSchema.parse({});
const HEALTH = '/health';
const METRICS = '/metrics';

/** The API's paths, from the committed OpenAPI document (a test keeps it in sync with the routes). */
const apiPaths = Object.keys(yamlFile(join(root, 'openapi.yaml')).paths as object);

/**
 * Series names /metrics really exposes: the server's telemetry after one request of each kind
 * (Prometheus lists an instrument once it has data), read from the `# TYPE` lines.
 */
async function exposedMetrics(): Promise<Set<string>> {
  const engine = new FakeEngine();
  const telemetry = new Telemetry(engine, { config: { traces: [], metrics: [], metricIntervalMs: 60_000 } });
  engine.step({ rows: 1, positions: 1 });
  telemetry.metrics.interToken('tiny', 0.01);
  telemetry.metrics.finished({
    attributes: {},
    model: 'tiny',
    durationS: 1,
    queueS: 0,
    ttftS: 0.1,
    tpotS: 0.01,
    promptTokens: 3,
    cachedTokens: 0,
    outputTokens: 2,
    reasoningTokens: 1,
    thinkingMode: 'soft',
    thinkingSteps: 1,
    drafts: 3,
    finishReasons: ['stop'],
  });
  telemetry.metrics.failed('tiny', 'invalid_value', {}, 0.001);
  const text = await telemetry.prometheus();
  await telemetry.shutdown();
  const names = new Set<string>();
  for (const [, name, kind] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    if (kind === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(name! + suffix);
    else names.add(name!);
  }
  return names;
}
const metrics = await exposedMetrics();

/** `reverie_*` names a PromQL expression uses. */
const metricsIn = (expr: string) => [...expr.matchAll(/\breverie_[a-z0-9_]+/g)].map((m) => m[0]);

function dockerfile(name: string) {
  const text = read(join(dockerDir, name)).replace(/\\\n/g, ' ');
  const lines = text.split('\n').filter((l) => l.trim() && !l.trim().startsWith('#'));
  const instr = (kind: string) =>
    lines
      .filter((l) =>
        l
          .trim()
          .toUpperCase()
          .startsWith(kind + ' '),
      )
      .map((l) => l.trim().slice(kind.length + 1));
  return { text, instr };
}

describe('Dockerfiles', () => {
  for (const [name, install] of [
    ['Dockerfile', 'skip'],
    ['Dockerfile.gpu', 'cuda12'],
  ] as const) {
    test(`${name}: non-root, HEALTHCHECK on /health, binds 0.0.0.0, onnxruntime install = ${install}`, () => {
      const { text, instr } = dockerfile(name);
      assert.ok(instr('FROM').length >= 2, 'multi-stage');
      const users = instr('USER');
      assert.ok(users.length > 0, 'USER set');
      assert.ok(!/^(root|0)(:|$)/.test(users.at(-1)!), 'last USER is not root');
      const health = instr('HEALTHCHECK');
      assert.equal(health.length, 1);
      assert.match(health[0], new RegExp(`${HEALTH}\\b`));
      assert.match(text, /ONNXRUNTIME_NODE_INSTALL=(\S+)/);
      assert.equal(text.match(/ONNXRUNTIME_NODE_INSTALL=(\S+)/)![1], install);
      const env = Object.fromEntries(
        instr('ENV')
          .join(' ')
          .split(/\s+/)
          .filter((kv) => kv.includes('='))
          .map((kv) => kv.split('=') as [string, string]),
      );
      const config = parseServerConfig({}, env);
      assert.equal(config.host, '0.0.0.0');
      assert.deepEqual(instr('EXPOSE'), [String(config.port)]);
      assert.equal(config.modelsDir, '/app/models');
      // Every source the image copies from the build context exists.
      for (const copy of instr('COPY').filter((c) => !c.includes('--from'))) {
        const parts = copy.split(/\s+/).filter((p) => !p.startsWith('--'));
        for (const src of parts.slice(0, -1)) assert.ok(existsSync(join(root, src)), `${name}: COPY ${src}`);
      }
      assert.match(instr('ENTRYPOINT')[0], /bin\/reverie\.js/);
      assert.ok(existsSync(join(root, 'bin', 'reverie.js')));
      assert.match(instr('CMD')[0], /serve/);
      assert.ok(existsSync(join(dockerDir, `${name}.dockerignore`)));
    });
  }

  test('Dockerfile.gpu has the Vulkan loader and the CUDA device', () => {
    const { text } = dockerfile('Dockerfile.gpu');
    assert.match(text, /libvulkan1/);
    assert.match(text, /REVERIE_DEVICE=cuda/);
    assert.match(text, /nvidia\/cuda:12/);
  });

  test('k6.Dockerfile builds k6 with xk6-sse', () => {
    const { text, instr } = dockerfile('k6.Dockerfile');
    assert.match(text, /xk6 build .*--with github\.com\/phymbert\/xk6-sse/);
    assert.ok(!/^(root|0)$/.test(instr('USER').at(-1)!));
  });
});

describe('compose.yaml', () => {
  const compose = yamlFile(join(dockerDir, 'compose.yaml'));
  const services = compose.services as Record<string, Record<string, unknown>>;

  test('has reverie, the collector, Prometheus, Grafana, and k6 in a profile', () => {
    assert.deepEqual(Object.keys(services).sort(), [
      'grafana',
      'k6',
      'otel-collector',
      'prometheus',
      'reverie',
    ]);
    assert.deepEqual(services.k6.profiles, ['k6']);
    for (const [name, s] of Object.entries(services)) {
      if (name !== 'k6') assert.equal(s.profiles, undefined, `${name} runs by default`);
    }
  });

  test('reverie: its environment parses, binds 0.0.0.0, ports and healthcheck agree', () => {
    const r = services.reverie as {
      environment: Record<string, string>;
      ports: string[];
      healthcheck: { test: string[] };
      stop_signal: string;
      stop_grace_period: string;
    };
    const config = parseServerConfig({}, r.environment);
    assert.equal(config.host, '0.0.0.0');
    assert.equal(config.port, defaults.port);
    assert.deepEqual(r.ports, [`${config.port}:${config.port}`]);
    assert.ok(r.healthcheck.test.join(' ').includes(`127.0.0.1:${config.port}${HEALTH}`));
    assert.equal(r.stop_signal, 'SIGTERM');
    assert.ok(Number.parseInt(r.stop_grace_period, 10) * 1000 > config.shutdownTimeoutMs);
    assert.ok(
      (r as unknown as { volumes: string[] }).volumes.some((v) => v.endsWith(`:${config.modelsDir}:ro`)),
      'models mounted at MODELS_DIR',
    );
  });

  test('build files and bind mounts exist', () => {
    for (const [name, s] of Object.entries(services)) {
      const build = s.build as { context: string; dockerfile: string } | undefined;
      if (build) {
        const ctx = resolve(dockerDir, build.context);
        assert.ok(existsSync(join(ctx, build.dockerfile)), `${name}: ${build.dockerfile}`);
      }
      for (const v of (s.volumes as string[] | undefined) ?? []) {
        const src = v.split(':')[0];
        if (src.startsWith('.')) assert.ok(existsSync(resolve(dockerDir, src)), `${name}: ${src}`);
      }
    }
  });

  test('the k6 service targets reverie and runs a script that exists', () => {
    const k6 = services.k6 as { environment: Record<string, string>; command: string[] };
    assert.equal(k6.environment.BASE_URL, `http://reverie:${defaults.port}`);
    const script = k6.command.at(-1)!;
    assert.ok(existsSync(join(root, script.replace(/^\/loadtest/, 'loadtest'))), script);
  });

  test('Prometheus and the collector scrape reverie /metrics on its port', () => {
    const prom = yamlFile(join(dockerDir, 'prometheus', 'prometheus.yml'));
    const otel = yamlFile(join(dockerDir, 'otel', 'collector.yaml'));
    const jobs = [...prom.scrape_configs, ...otel.receivers.prometheus.config.scrape_configs] as {
      job_name: string;
      metrics_path?: string;
      static_configs: { targets: string[] }[];
    }[];
    const reverieJobs = jobs.filter((j) =>
      j.static_configs.some((c) => c.targets.some((t) => t.startsWith('reverie:'))),
    );
    assert.equal(reverieJobs.length, 2);
    for (const j of reverieJobs) {
      assert.equal(j.metrics_path ?? METRICS, METRICS);
      assert.deepEqual(j.static_configs[0].targets, [`reverie:${defaults.port}`]);
    }
    const relay = prom.scrape_configs.find((j: { job_name: string }) => j.job_name === 'otel-collector');
    assert.equal(
      relay.static_configs[0].targets[0],
      `otel-collector:${otel.exporters.prometheus.endpoint.split(':')[1]}`,
    );
  });

  test('reverie sends traces to the collector OTLP/HTTP receiver and does not push metrics twice', () => {
    const env = (services.reverie as { environment: Record<string, string> }).environment;
    const config = telemetryConfigFromEnv(env);
    assert.deepEqual(config.traces, ['otlp']);
    assert.deepEqual(config.metrics, [], 'the collector scrapes /metrics instead');
    const otel = yamlFile(join(dockerDir, 'otel', 'collector.yaml'));
    const endpoint = new URL(env.OTEL_EXPORTER_OTLP_ENDPOINT!);
    assert.ok(endpoint.hostname in services, `${endpoint.hostname} is a compose service`);
    assert.equal(endpoint.port, otel.receivers.otlp.protocols.http.endpoint.split(':')[1]);
    assert.ok(otel.service.pipelines.traces.receivers.includes('otlp'));
  });

  test('Grafana: provisioned datasource and dashboard use only exposed metric names', () => {
    const ds = yamlFile(join(dockerDir, 'grafana', 'provisioning', 'datasources', 'prometheus.yaml'));
    const dashboard = JSON.parse(read(join(dockerDir, 'grafana', 'dashboards', 'reverie.json')));
    const uid = ds.datasources[0].uid;
    const titles = dashboard.panels.map((p: { title: string }) => p.title.toLowerCase()).join('|');
    for (const want of [
      'first token',
      'inter-token',
      'throughput',
      'kv cache',
      'batch size',
      'queue',
      'modes',
    ]) {
      assert.ok(titles.includes(want), `panel for ${want}`);
    }
    for (const panel of dashboard.panels) {
      assert.equal(panel.datasource.uid, uid);
      for (const t of panel.targets) {
        for (const name of metricsIn(t.expr)) assert.ok(metrics.has(name), `${panel.title}: ${name}`);
      }
    }
  });
});

describe('Kubernetes manifests', () => {
  const kustomization = yamlFile(join(k8sDir, 'kustomization.yaml'));
  const docs = (kustomization.resources as string[]).flatMap((file) => {
    assert.ok(existsSync(join(k8sDir, file)), file);
    return parseAllDocuments(read(join(k8sDir, file))).map((d) => d.toJS());
  });
  const byKind = (kind: string) => docs.find((d) => d.kind === kind);

  test('every manifest file parses', () => {
    for (const file of readdirSync(k8sDir).filter((f) => f.endsWith('.yaml'))) {
      for (const doc of parseAllDocuments(read(join(k8sDir, file)))) assert.deepEqual(doc.errors, [], file);
    }
    assert.deepEqual(docs.map((d) => d.kind).sort(), ['Deployment', 'HorizontalPodAutoscaler', 'Service']);
  });

  test('Deployment: env parses, port, probes on /health, graceful termination', () => {
    const dep = byKind('Deployment');
    const pod = dep.spec.template.spec;
    const c = pod.containers[0];
    const env = Object.fromEntries(c.env.map((e: { name: string; value: string }) => [e.name, e.value]));
    const config = parseServerConfig({}, env);
    assert.equal(config.host, '0.0.0.0');
    const telemetry = telemetryConfigFromEnv(env);
    assert.deepEqual([telemetry.traces, telemetry.metrics], [['otlp'], []], 'traces pushed, metrics scraped');
    // Kubernetes expands $(VAR) only from variables defined earlier in the list.
    c.env.forEach((e: { name: string; value?: string }, i: number) => {
      for (const [, ref] of (e.value ?? '').matchAll(/\$\((\w+)\)/g)) {
        const at = c.env.findIndex((d: { name: string }) => d.name === ref);
        assert.ok(at >= 0 && at < i, `${e.name} uses $(${ref}) defined before it`);
      }
    });
    const port = c.ports.find((p: { name: string }) => p.name === 'http');
    assert.equal(port.containerPort, config.port);
    for (const probe of ['readinessProbe', 'startupProbe', 'livenessProbe']) {
      assert.equal(c[probe].httpGet.path, HEALTH, probe);
      assert.ok([config.port, 'http'].includes(c[probe].httpGet.port), probe);
    }
    const preStop = c.lifecycle?.preStop?.sleep?.seconds ?? 0;
    assert.ok(pod.terminationGracePeriodSeconds * 1000 > config.shutdownTimeoutMs + preStop * 1000);
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.ok(pod.securityContext.runAsUser > 0);
    assert.deepEqual(dep.spec.selector.matchLabels, dep.spec.template.metadata.labels);
    const ann = dep.spec.template.metadata.annotations;
    assert.equal(ann['prometheus.io/path'], METRICS);
    assert.equal(Number(ann['prometheus.io/port']), config.port);
  });

  test('Service selects the pods and targets the http port', () => {
    const svc = byKind('Service');
    const dep = byKind('Deployment');
    assert.deepEqual(svc.spec.selector, dep.spec.template.metadata.labels);
    assert.equal(svc.spec.ports[0].targetPort, 'http');
  });

  test('HPA scales the Deployment on running/waiting requests the adapter serves', () => {
    const hpa = byKind('HorizontalPodAutoscaler');
    assert.equal(hpa.spec.scaleTargetRef.name, byKind('Deployment').metadata.name);
    const names = hpa.spec.metrics
      .map((m: { pods: { metric: { name: string } } }) => m.pods.metric.name)
      .sort();
    assert.deepEqual(names, ['reverie_num_requests_running', 'reverie_num_requests_waiting']);
    const adapter = yamlFile(join(k8sDir, 'prometheus-adapter-rules.yaml'));
    const served = adapter.rules.custom.map((r: { name: { as: string } }) => r.name.as);
    for (const name of names) {
      assert.ok(metrics.has(name), name);
      assert.ok(served.includes(name), `adapter serves ${name}`);
    }
  });
});

describe('k6 scripts', () => {
  const dir = join(root, 'loadtest');
  const scripts = readdirSync(dir).filter((f) => f.endsWith('.ts'));

  test('there is a script for each workload, with a README line to run it', () => {
    const readme = read(join(dockerDir, 'README.md'));
    for (const s of ['chat.ts', 'sse.ts', 'ws.ts', 'mixed.ts']) {
      assert.ok(scripts.includes(s), s);
      assert.ok(readme.includes(`loadtest/${s}`), `README runs ${s}`);
    }
  });

  test('they hit only endpoints the API has', () => {
    assert.ok(apiPaths.includes(WS_PATH));
    let seen = 0;
    for (const file of scripts) {
      for (const m of read(join(dir, file)).matchAll(/'(\/(?:v1|health|metrics)[^'\s]*)'/g)) {
        assert.ok(apiPaths.includes(m[1]), `${file}: ${m[1]}`);
        seen++;
      }
    }
    assert.ok(seen >= 4);
  });

  test('they define the TTFT, TPOT and reasoning-step Trends and the thresholds', () => {
    const lib = read(join(dir, 'lib.ts'));
    for (const trend of ['reverie_ttft', 'reverie_tpot', 'reverie_reasoning_steps']) {
      assert.match(lib, new RegExp(`new Trend\\('${trend}'`));
    }
    assert.match(lib, /http_req_failed: \['rate==0'\]/);
    assert.match(lib, /reverie_ttft = \[`p\(95\)</);
    assert.ok(existsSync(join(dirname(join(dir, 'tsconfig.json')), 'types', 'xk6-sse.d.ts')));
  });
});
