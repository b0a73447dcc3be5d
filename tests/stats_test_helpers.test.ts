/** The parsers the stats tests rely on must refuse what they are there to catch. */

import { test } from "node:test";
import assert from "node:assert/strict";
import { CsvFormatError, readCsv, readStatsCsv } from "./helpers/csv_reader.ts";
import { parsePrometheusText, PrometheusFormatError, sampleValue } from "./helpers/prometheus_text_parser.ts";

test("the Prometheus parser reads HELP, TYPE, labels with escapes, special values and timestamps", () => {
  const text = [
    "# A plain comment",
    "# HELP http_requests_total The total number of HTTP requests, with a \\\\ and a \\n.",
    "# TYPE http_requests_total counter",
    'http_requests_total{method="post",code="200"} 1027 1395066363000',
    'http_requests_total{method="post",code="400",} 3 1395066363000',
    "",
    "# TYPE odd gauge",
    'odd{path="C:\\\\DIR\\\\FILE.TXT",error="Cannot find file:\\n\\"FILE.TXT\\""} 1.458255915e9',
    "odd{path=\"x\"} NaN",
    "odd{path=\"y\"} +Inf",
    "odd{path=\"z\"} -Inf",
    "odd{path=\"w\"} -.5",
    "# TYPE rpc_duration_seconds summary",
    'rpc_duration_seconds{quantile="0.5"} 4773',
    "rpc_duration_seconds_sum 1.7560473e+07",
    "rpc_duration_seconds_count 2693",
    "",
  ].join("\n");
  const families = parsePrometheusText(text);
  assert.deepEqual([...families.keys()], ["http_requests_total", "odd", "rpc_duration_seconds"]);
  const requests = families.get("http_requests_total")!;
  assert.equal(requests.help, "The total number of HTTP requests, with a \\ and a \n.");
  assert.equal(requests.type, "counter");
  assert.deepEqual(requests.samples[0], { name: "http_requests_total", labels: { method: "post", code: "200" }, value: 1027, timestamp: 1395066363000 });
  assert.equal(sampleValue(families, "odd", { path: "C:\\DIR\\FILE.TXT" }), 1.458255915e9);
  assert.equal(families.get("odd")!.samples[0]!.labels.error, 'Cannot find file:\n"FILE.TXT"');
  assert.ok(Number.isNaN(sampleValue(families, "odd", { path: "x" })));
  assert.equal(sampleValue(families, "odd", { path: "y" }), Infinity);
  assert.equal(sampleValue(families, "odd", { path: "z" }), -Infinity);
  assert.equal(sampleValue(families, "odd", { path: "w" }), -0.5);
  assert.equal(families.get("rpc_duration_seconds")!.samples.length, 3);
});

test("the Prometheus parser refuses malformed expositions", () => {
  const refused: [string, string][] = [
    ["no TYPE", "undeclared 1\n"],
    ["no final line feed", "# TYPE a gauge\na 1"],
    ["duplicate series", '# TYPE a gauge\na{x="1"} 1\na{x="1"} 2\n'],
    ["duplicate series, labels reordered", '# TYPE a gauge\na{x="1",y="2"} 1\na{y="2",x="1"} 2\n'],
    ["split family", "# TYPE a gauge\n# TYPE b gauge\na 1\nb 1\na{x=\"2\"} 1\n"],
    ["second TYPE", "# TYPE a gauge\n# TYPE a counter\na 1\n"],
    ["second HELP", "# HELP a one\n# HELP a two\n# TYPE a gauge\na 1\n"],
    ["TYPE after samples", "# HELP a x\na 1\n# TYPE a gauge\n"],
    ["bad type", "# TYPE a meter\na 1\n"],
    ["bad metric name", "# TYPE 1a gauge\n1a 1\n"],
    ["bad label name", '# TYPE a gauge\na{1x="1"} 1\n'],
    ["repeated label", '# TYPE a gauge\na{x="1",x="2"} 1\n'],
    ["bad escape", '# TYPE a gauge\na{x="\\t"} 1\n'],
    ["unterminated value", '# TYPE a gauge\na{x="1} 1\n'],
    ["unquoted value", "# TYPE a gauge\na{x=1} 1\n"],
    ["missing value", "# TYPE a gauge\na\n"],
    ["bad value", "# TYPE a gauge\na 1,5\n"],
    ["text value", "# TYPE a gauge\na UP\n"],
    ["bad timestamp", "# TYPE a gauge\na 1 1.5\n"],
    ["extra field", "# TYPE a gauge\na 1 2 3\n"],
    ["missing comma", '# TYPE a gauge\na{x="1" y="2"} 1\n'],
  ];
  for (const [reason, text] of refused) {
    assert.throws(() => parsePrometheusText(text), PrometheusFormatError, reason);
  }
});

test("the CSV reader follows RFC 4180 and accepts HAProxy's bare line feeds", () => {
  assert.deepEqual(readCsv("a,b,c\r\n1,2,3\r\n"), [["a", "b", "c"], ["1", "2", "3"]]);
  assert.deepEqual(readCsv("a,b\n1,2"), [["a", "b"], ["1", "2"]]);
  assert.deepEqual(readCsv('"a,1","b ""q""","line\r\nbreak",""\n'), [["a,1", 'b "q"', "line\r\nbreak", ""]]);
  assert.deepEqual(readCsv("x,,\n"), [["x", "", ""]]);
  assert.deepEqual(readCsv('x,""'), [["x", ""]]);
  assert.deepEqual(readCsv(""), []);
});

test("the CSV reader refuses malformed quoting", () => {
  assert.throws(() => readCsv('a"b,c\n'), CsvFormatError);
  assert.throws(() => readCsv('"ab"c,d\n'), CsvFormatError);
  assert.throws(() => readCsv('"open,d\n'), CsvFormatError);
  assert.throws(() => readCsv("a\rb\n"), CsvFormatError);
});

test("the stats CSV reader needs HAProxy's header and records as long as it", () => {
  assert.deepEqual(readStatsCsv("# a,b,\n1,2,\n").rows, [{ a: "1", b: "2", "": "" }]);
  assert.throws(() => readStatsCsv("a,b\n1,2\n"), /header/);
  assert.throws(() => readStatsCsv("# a,b\n1,2,3\n"), /3 fields/);
});
