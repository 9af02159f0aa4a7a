// What the sidecar uses of prom-client (Registry, Counter, Gauge, Histogram, the default metrics),
// for the bundle: prom-client's index also loads the Pushgateway (node:https, zlib), the cluster
// aggregator and Summary (tdigest), ~6 MB of RSS and ~6 ms of start-up that a sidecar never uses
// (scripts/bundle.mjs maps 'prom-client' to this file, as it maps undici to undici-core.mjs).
import Counter from 'prom-client/lib/counter.js';
import collectDefaultMetrics from 'prom-client/lib/defaultMetrics.js';
import Gauge from 'prom-client/lib/gauge.js';
import Histogram from 'prom-client/lib/histogram.js';
import Registry from 'prom-client/lib/registry.js';

export { collectDefaultMetrics, Counter, Gauge, Histogram, Registry };
