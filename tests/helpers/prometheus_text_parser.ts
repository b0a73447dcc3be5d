/**
 * A parser of Prometheus' text exposition format 0.0.4, strict enough to fail an exporter that
 * a Prometheus server would refuse or misread: every line is a comment, a HELP or TYPE line, a
 * sample or empty; names and label names follow the format's grammar; label values use only the
 * escapes \\, \" and \n; a value is a Go float (NaN, +Inf, -Inf included) and a timestamp an
 * integer; the text ends with a line feed. On top of the grammar, what Prometheus' own parser
 * checks: a family has at most one HELP and one TYPE, its TYPE comes before its samples, its
 * lines are not split by another family's, no label is repeated in a sample and no series
 * (name and label set) appears twice. And what this project asks of its exporter: every sample
 * belongs to a family declared by a TYPE line.
 *
 * @module
 */

/** A metric type of the format. */
export type MetricType = "counter" | "gauge" | "histogram" | "summary" | "untyped";

/** One sample line. */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
  readonly timestamp: number | null;
}

/** A metric family: its HELP, TYPE and samples. */
export interface MetricFamily {
  readonly name: string;
  help: string | null;
  type: MetricType | null;
  readonly samples: Sample[];
}

/** Thrown on anything the format does not allow, with the line number. */
export class PrometheusFormatError extends Error {
  constructor(line: number, message: string) {
    super(`line ${line}: ${message}`);
    this.name = "PrometheusFormatError";
  }
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;
const FLOAT = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const TYPES: readonly MetricType[] = ["counter", "gauge", "histogram", "summary", "untyped"];

/** Parses an exposition; throws {@link PrometheusFormatError}. Families in order of appearance. */
export function parsePrometheusText(text: string): Map<string, MetricFamily> {
  if (text !== "" && !text.endsWith("\n")) throw new PrometheusFormatError(text.split("\n").length, "the text does not end with a line feed");
  const families = new Map<string, MetricFamily>();
  const finished = new Set<string>();
  const series = new Set<string>();
  let current: MetricFamily | null = null;
  const lines = text.split("\n");
  lines.pop();

  const familyFor = (name: string, lineNumber: number): MetricFamily => {
    if (current !== null && current.name !== name) finished.add(current.name);
    if (finished.has(name)) throw new PrometheusFormatError(lineNumber, `the lines of "${name}" are not together`);
    let family = families.get(name);
    if (family === undefined) {
      family = { name, help: null, type: null, samples: [] };
      families.set(name, family);
    }
    current = family;
    return family;
  };

  lines.forEach((line, index) => {
    const lineNumber = index + 1;
    if (line.trim() === "") return;
    if (line.startsWith("#")) {
      const comment = /^#[ \t]+(HELP|TYPE)[ \t]+(\S+)(?:[ \t]+(.*))?$/.exec(line);
      if (comment === null) return; // a plain comment
      const [, keyword, name, rest] = comment;
      if (!METRIC_NAME.test(name!)) throw new PrometheusFormatError(lineNumber, `invalid metric name "${name}"`);
      const family = familyFor(name!, lineNumber);
      if (keyword === "HELP") {
        if (family.help !== null) throw new PrometheusFormatError(lineNumber, `second HELP for "${name}"`);
        family.help = unescapeHelp(rest ?? "", lineNumber);
      } else {
        if (family.type !== null) throw new PrometheusFormatError(lineNumber, `second TYPE for "${name}"`);
        if (family.samples.length > 0) throw new PrometheusFormatError(lineNumber, `TYPE for "${name}" after its samples`);
        const type = (rest ?? "").trim() as MetricType;
        if (!TYPES.includes(type)) throw new PrometheusFormatError(lineNumber, `invalid type "${rest}"`);
        family.type = type;
      }
      return;
    }
    const sample = parseSample(line, lineNumber);
    const family = familyFor(familyName(sample.name, families), lineNumber);
    if (family.type === null) throw new PrometheusFormatError(lineNumber, `sample of "${sample.name}" without a TYPE line before it`);
    const key = seriesKey(sample);
    if (series.has(key)) throw new PrometheusFormatError(lineNumber, `duplicate series ${key}`);
    series.add(key);
    family.samples.push(sample);
  });
  return families;
}

/** The family a sample belongs to: histograms and summaries own their _bucket, _sum and _count. */
function familyName(sampleName: string, families: Map<string, MetricFamily>): string {
  for (const suffix of ["_bucket", "_sum", "_count"]) {
    if (!sampleName.endsWith(suffix)) continue;
    const base = families.get(sampleName.slice(0, -suffix.length));
    if (base !== undefined && (base.type === "histogram" || base.type === "summary")) {
      if (suffix === "_bucket" && base.type !== "histogram") continue;
      return base.name;
    }
  }
  return sampleName;
}

function seriesKey(sample: Sample): string {
  const labels = Object.keys(sample.labels).sort().map((name) => `${name}=${JSON.stringify(sample.labels[name])}`);
  return `${sample.name}{${labels.join(",")}}`;
}

function unescapeHelp(text: string, lineNumber: number): string {
  return text.replace(/\\(.?)/g, (_, next: string) => {
    if (next === "\\") return "\\";
    if (next === "n") return "\n";
    throw new PrometheusFormatError(lineNumber, `invalid escape "\\${next}" in HELP`);
  });
}

/** `name{label="value",...} value [timestamp]`. */
function parseSample(line: string, lineNumber: number): Sample {
  let position = 0;
  const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
  if (nameMatch === null) throw new PrometheusFormatError(lineNumber, `invalid sample line "${line}"`);
  const name = nameMatch[0];
  position = name.length;
  const labels: Record<string, string> = {};
  if (line[position] === "{") {
    position++;
    for (;;) {
      position = skipBlanks(line, position);
      if (line[position] === "}") {
        position++;
        break;
      }
      const labelMatch = LABEL_NAME.exec(line.slice(position));
      if (labelMatch === null) throw new PrometheusFormatError(lineNumber, `invalid label name at column ${position + 1}`);
      const labelName = labelMatch[0];
      if (Object.hasOwn(labels, labelName)) throw new PrometheusFormatError(lineNumber, `label "${labelName}" repeated`);
      position = skipBlanks(line, position + labelName.length);
      if (line[position] !== "=") throw new PrometheusFormatError(lineNumber, `"=" expected after label "${labelName}"`);
      position = skipBlanks(line, position + 1);
      if (line[position] !== '"') throw new PrometheusFormatError(lineNumber, `quoted value expected for label "${labelName}"`);
      position++;
      let value = "";
      for (;;) {
        const char = line[position];
        if (char === undefined) throw new PrometheusFormatError(lineNumber, `unterminated value of label "${labelName}"`);
        if (char === '"') break;
        if (char === "\\") {
          const next = line[position + 1];
          if (next === "\\") value += "\\";
          else if (next === '"') value += '"';
          else if (next === "n") value += "\n";
          else throw new PrometheusFormatError(lineNumber, `invalid escape "\\${next ?? ""}" in label "${labelName}"`);
          position += 2;
          continue;
        }
        value += char;
        position++;
      }
      labels[labelName] = value;
      position = skipBlanks(line, position + 1);
      if (line[position] === ",") {
        position++;
        continue;
      }
      if (line[position] === "}") {
        position++;
        break;
      }
      throw new PrometheusFormatError(lineNumber, `"," or "}" expected after label "${labelName}"`);
    }
  }
  if (line[position] !== " " && line[position] !== "\t") throw new PrometheusFormatError(lineNumber, `blank expected before the value of "${name}"`);
  const fields = line.slice(position).trim().split(/[ \t]+/);
  if (fields.length < 1 || fields.length > 2 || fields[0] === "") throw new PrometheusFormatError(lineNumber, `value [timestamp] expected for "${name}"`);
  const value = parseValue(fields[0]!, lineNumber);
  let timestamp: number | null = null;
  if (fields.length === 2) {
    if (!/^-?\d+$/.test(fields[1]!)) throw new PrometheusFormatError(lineNumber, `invalid timestamp "${fields[1]}"`);
    timestamp = Number(fields[1]);
  }
  return { name, labels, value, timestamp };
}

function skipBlanks(line: string, position: number): number {
  while (line[position] === " " || line[position] === "\t") position++;
  return position;
}

function parseValue(text: string, lineNumber: number): number {
  if (text === "NaN") return Number.NaN;
  if (text === "+Inf" || text === "Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  if (!FLOAT.test(text)) throw new PrometheusFormatError(lineNumber, `invalid value "${text}"`);
  return Number(text);
}

/** The value of the one sample of `name` whose labels include `labels`; throws if there is not exactly one. */
export function sampleValue(families: Map<string, MetricFamily>, name: string, labels: Record<string, string> = {}): number {
  const matches = [...families.values()]
    .flatMap((family) => family.samples)
    .filter((sample) => sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value));
  if (matches.length !== 1) throw new Error(`${matches.length} samples of ${name} ${JSON.stringify(labels)}`);
  return matches[0]!.value;
}
