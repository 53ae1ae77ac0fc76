import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { MetricsService } from '../src/metrics/metrics.service';

/**
 * The Grafana dashboard and the Prometheus alert rules under deploy/ query only metrics the service
 * exports: a renamed or removed metric (or a typo in a query) fails here, not as an empty panel or an
 * alert that never fires.
 */

const DEPLOY = join(__dirname, '..', 'deploy');
/** Series Prometheus makes itself for every scrape target. */
const MADE_BY_PROMETHEUS = new Set(['up']);
const PROMQL_KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan']);

/** The metric names a PromQL expression selects: what is left once strings, matchers, ranges, grouping labels and function names are gone. */
export function metricNamesIn(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = new Set<string>();
  for (const match of bare.matchAll(/(?<![\w$.])([a-zA-Z_:][\w:]*)(\s*\()?/g)) {
    const [, name, call] = match;
    if (call || PROMQL_KEYWORDS.has(name!.toLowerCase())) continue;
    names.add(name!);
  }
  return [...names];
}

/** Every name GET /metrics can show: each metric's own, and the _bucket/_sum/_count series of histograms (and _sum/_count of summaries). */
async function exportedNames(): Promise<Set<string>> {
  const metrics = await new MetricsService().registry.getMetricsAsJSON();
  const names = new Set<string>();
  for (const { name, type } of metrics) {
    names.add(name);
    if (String(type) === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(name + suffix);
    if (String(type) === 'summary') for (const suffix of ['_sum', '_count']) names.add(name + suffix);
  }
  return names;
}

interface Query {
  where: string;
  expr: string;
}

interface DashboardPanel {
  title?: string;
  targets?: Array<{ expr?: string }>;
  panels?: DashboardPanel[];
}

function dashboardQueries(path: string): Query[] {
  const dashboard = JSON.parse(readFileSync(path, 'utf8')) as {
    panels: DashboardPanel[];
    templating: { list: Array<{ name: string; type: string; query?: string | { query: string } }> };
  };
  const queries: Query[] = [];
  const visit = (panel: DashboardPanel) => {
    for (const target of panel.targets ?? []) if (target.expr) queries.push({ where: `panel "${panel.title}"`, expr: target.expr });
    for (const inner of panel.panels ?? []) visit(inner);
  };
  dashboard.panels.forEach(visit);
  for (const variable of dashboard.templating.list) {
    if (variable.type !== 'query') continue;
    const text = typeof variable.query === 'string' ? variable.query : variable.query!.query;
    // label_values(<series>, <label>): the series is PromQL, the label is not.
    const series = /^label_values\((.*),\s*\w+\)$/.exec(text.trim())?.[1] ?? text;
    queries.push({ where: `variable ${variable.name}`, expr: series });
  }
  return queries;
}

function alertQueries(path: string): Query[] {
  const rules = parseYaml(readFileSync(path, 'utf8')) as { groups: Array<{ rules: Array<{ alert?: string; record?: string; expr: string }> }> };
  return rules.groups.flatMap((group) => group.rules.map((rule) => ({ where: `rule ${rule.alert ?? rule.record}`, expr: String(rule.expr) })));
}

function unknownNames(queries: Query[], exported: Set<string>): string[] {
  return queries.flatMap(({ where, expr }) =>
    metricNamesIn(expr)
      .filter((name) => !exported.has(name) && !MADE_BY_PROMETHEUS.has(name))
      .map((name) => `${where}: ${name}`),
  );
}

describe('metric names in PromQL', () => {
  it('are what a query selects, without functions, labels, ranges or grouping', () => {
    expect(
      metricNamesIn('histogram_quantile(0.95, sum by (le, service) (rate(wasm_signer_sigstore_request_duration_seconds_bucket{job=~"$job",status!~"2.."}[$__rate_interval])))'),
    ).toEqual(['wasm_signer_sigstore_request_duration_seconds_bucket']);
    expect(metricNamesIn('sum(increase(a_total{outcome="failed"}[1h])) / clamp_min(sum(increase(a_total[1h])), 1) > 0.2 and on (type) b_seconds offset 5m')).toEqual([
      'a_total',
      'b_seconds',
    ]);
    expect(metricNamesIn('up{job="x"} == 0')).toEqual(['up']);
  });
});

describe('deploy/ dashboards and alerts', () => {
  let exported: Set<string>;
  beforeAll(async () => {
    exported = await exportedNames();
  });

  it('the exported names include the histograms series and the default process metrics', () => {
    expect(exported).toContain('pipeline_step_duration_seconds_bucket');
    expect(exported).toContain('wasm_signer_jobs_finished_total');
    expect(exported).toContain('process_cpu_seconds_total');
  });

  it('the Grafana dashboard queries only exported metrics', () => {
    const queries = dashboardQueries(join(DEPLOY, 'grafana', 'wasm-signer-dashboard.json'));
    expect(queries.length).toBeGreaterThan(20);
    expect(unknownNames(queries, exported)).toEqual([]);
  });

  it('the Prometheus alert rules query only exported metrics', () => {
    const queries = alertQueries(join(DEPLOY, 'prometheus', 'alerts.yaml'));
    expect(queries.length).toBeGreaterThan(5);
    expect(unknownNames(queries, exported)).toEqual([]);
  });

  it('a query naming a metric the service does not export is reported', () => {
    const queries = [{ where: 'panel "bogus"', expr: 'sum(rate(wasm_signer_jobs_finshed_total[5m])) / sum(rate(http_request_duration_seconds_count[5m]))' }];
    expect(unknownNames(queries, exported)).toEqual(['panel "bogus": wasm_signer_jobs_finshed_total']);
  });

  it('the dashboard covers the metrics operators look at first', () => {
    const named = new Set(dashboardQueries(join(DEPLOY, 'grafana', 'wasm-signer-dashboard.json')).flatMap(({ expr }) => metricNamesIn(expr)));
    for (const name of [
      'wasm_signer_jobs_finished_total',
      'pipeline_step_duration_seconds_bucket',
      'wasm_signer_sigstore_request_duration_seconds_bucket',
      'wasm_signer_registry_request_duration_seconds_count',
      'wasm_signer_queue_jobs',
      'wasm_signer_queue_oldest_waiting_age_seconds',
      'wasm_signer_webhook_deliveries_total',
      'wasm_signer_verification_cache_total',
      'http_request_duration_seconds_bucket',
      'process_resident_memory_bytes',
    ]) {
      expect(named).toContain(name);
    }
  });
});
