// Just enough PromQL lexing to list the metric and label names an expression uses, so tests can
// hold dashboards to SPEC §5. Syntax itself is checked by promtool, not here.

const FUNCTIONS = new Set([
  // aggregations
  'sum', 'min', 'max', 'avg', 'group', 'stddev', 'stdvar', 'count', 'count_values', 'bottomk', 'topk', 'quantile',
  // functions
  'abs', 'absent', 'absent_over_time', 'ceil', 'changes', 'clamp', 'clamp_max', 'clamp_min', 'day_of_month',
  'day_of_week', 'day_of_year', 'days_in_month', 'delta', 'deriv', 'exp', 'floor', 'histogram_quantile',
  'holt_winters', 'hour', 'idelta', 'increase', 'irate', 'label_join', 'label_replace', 'ln', 'log2', 'log10',
  'minute', 'month', 'predict_linear', 'rate', 'resets', 'round', 'scalar', 'sgn', 'sort', 'sort_desc', 'sqrt',
  'time', 'timestamp', 'vector', 'year', 'avg_over_time', 'min_over_time', 'max_over_time', 'sum_over_time',
  'count_over_time', 'quantile_over_time', 'stddev_over_time', 'stdvar_over_time', 'last_over_time',
  'present_over_time',
]);
const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
const GROUPING = /\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g;

export interface PromqlNames {
  metrics: string[];
  labels: string[];
  functions: string[];
  /** Identifiers called like functions that PromQL does not have. */
  unknownFunctions: string[];
}

export function promqlNames(expr: string): PromqlNames {
  const labels = new Set<string>();
  // Strings go first: a regex like "5.." or a legend must not read as names.
  let rest = expr.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""');
  rest = rest.replace(/\{([^}]*)\}/g, (_match, matchers: string) => {
    for (const m of matchers.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g)) if (m[1]) labels.add(m[1]);
    return ' ';
  });
  rest = rest.replace(GROUPING, (_match, list: string) => {
    for (const name of list.split(',').map((s) => s.trim()).filter(Boolean)) labels.add(name);
    return ' '; // `sum by (x) (...)` must still read as a call of sum
  });
  rest = rest.replace(/\[[^\]]*\]/g, ' '); // ranges and subqueries: [5m], [1h:1m]
  rest = rest.replace(/(?<![a-zA-Z_:0-9])\d+(?:ms|[smhdwy])\b/g, ' '); // durations: offset 5m
  rest = rest.replace(/(?<![a-zA-Z_:0-9])\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g, ' '); // numbers

  const metrics = new Set<string>();
  const functions = new Set<string>();
  const unknownFunctions = new Set<string>();
  for (const m of rest.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?/g)) {
    const name = m[1] ?? '';
    const called = m[2] !== undefined;
    if (KEYWORDS.has(name)) continue;
    if (called) {
      (FUNCTIONS.has(name) ? functions : unknownFunctions).add(name);
    } else {
      metrics.add(name);
    }
  }
  return { metrics: [...metrics], labels: [...labels], functions: [...functions], unknownFunctions: [...unknownFunctions] };
}
