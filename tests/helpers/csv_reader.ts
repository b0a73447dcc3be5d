/**
 * An RFC 4180 CSV reader: records separated by CRLF (a bare LF too, as HAProxy writes them),
 * fields by commas, a field quoted when it holds a comma, a quote or a line break, a quote inside
 * written twice. Throws on what the RFC does not allow: a quote inside an unquoted field,
 * anything but a comma or a line break after a closing quote, a quote left open.
 *
 * @module
 */

/** Thrown on malformed CSV, with the record and field where it went wrong. */
export class CsvFormatError extends Error {
  constructor(record: number, field: number, message: string) {
    super(`record ${record}, field ${field}: ${message}`);
    this.name = "CsvFormatError";
  }
}

/** The records of `text`, each a list of fields. A final line break does not start an empty record. */
export function readCsv(text: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let field = "";
  let position = 0;
  const endField = () => {
    record.push(field);
    field = "";
  };
  const endRecord = () => {
    endField();
    records.push(record);
    record = [];
  };
  while (position < text.length) {
    const char = text[position]!;
    if (char === '"') {
      if (field !== "") throw new CsvFormatError(records.length + 1, record.length + 1, "a quote inside an unquoted field");
      position++;
      for (;;) {
        if (position >= text.length) throw new CsvFormatError(records.length + 1, record.length + 1, "a quoted field is not closed");
        const inner = text[position]!;
        if (inner === '"') {
          if (text[position + 1] === '"') {
            field += '"';
            position += 2;
            continue;
          }
          position++;
          break;
        }
        field += inner;
        position++;
      }
      const after = text[position];
      if (after !== undefined && after !== "," && after !== "\r" && after !== "\n") {
        throw new CsvFormatError(records.length + 1, record.length + 1, `"${after}" after a closing quote`);
      }
      // A quoted empty field must not be taken for "nothing read yet" by the check above.
      if (after === undefined) {
        endRecord();
        return records;
      }
      continue;
    }
    if (char === ",") {
      endField();
      position++;
      continue;
    }
    if (char === "\r" && text[position + 1] === "\n") {
      endRecord();
      position += 2;
      continue;
    }
    if (char === "\n") {
      endRecord();
      position++;
      continue;
    }
    if (char === "\r") throw new CsvFormatError(records.length + 1, record.length + 1, "a bare CR outside quotes");
    field += char;
    position++;
  }
  if (field !== "" || record.length > 0) endRecord();
  return records;
}

/**
 * HAProxy's stats CSV as objects: the header's names (its "# " taken off) as keys, every record
 * as long as the header (else it throws).
 */
export function readStatsCsv(text: string): { header: string[]; rows: Record<string, string>[] } {
  const [headerRecord, ...records] = readCsv(text);
  if (headerRecord === undefined || !headerRecord[0]?.startsWith("# ")) throw new Error("The stats CSV does not start with a \"# \" header");
  const header = [headerRecord[0].slice(2), ...headerRecord.slice(1)];
  const rows = records.map((record, index) => {
    if (record.length !== header.length) throw new Error(`Record ${index + 2} has ${record.length} fields, the header ${header.length}`);
    return Object.fromEntries(header.map((name, column) => [name, record[column]!]));
  });
  return { header, rows };
}
