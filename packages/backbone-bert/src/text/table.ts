/**
 * Readers of text tables: CSV (RFC 4180: quoted fields, doubled quotes, newlines inside quotes),
 * TSV (tab-separated, no quoting, as GLUE's files are read) and JSONL (one JSON object a line).
 * Files are read in chunks, so multi-gigabyte corpora (Amazon reviews) never sit in one string.
 * A column mapping says which fields hold the text (several are joined with a space), the
 * optional second text of a pair, and the label.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { extname } from 'node:path';
import { DataError } from '@supermask/core';

export type TableFormat = 'csv' | 'tsv' | 'jsonl';

/** A column: its header name (CSV/TSV with a header), its JSON key (dotted path for nesting), or its 0-based index. */
export type ColumnRef = string | number;

export interface ColumnMapping {
  /** Field(s) holding the text; several are joined with a space (e.g. title + description). */
  text: ColumnRef | ColumnRef[];
  /** Field holding the second text of a sentence pair (GLUE MRPC, RTE, ...). */
  text_pair?: ColumnRef | ColumnRef[];
  label: ColumnRef;
}

export interface TableReadOptions {
  format?: TableFormat;
  /** CSV/TSV: the first row names the columns (default: true when any column is referred to by name). */
  header?: boolean;
  columns: ColumnMapping;
  /** CSV only: the field delimiter (default ","). */
  delimiter?: string;
  /** Replace the two-character sequence backslash-n with a space (the char-CNN CSVs of Zhang et al. 2015 escape newlines so). */
  unescape_newlines?: boolean;
  /** CSV/TSV: skip rows with too few fields instead of failing (GLUE's processors skip them). */
  skip_short_rows?: boolean;
}

/** One example read from a table. */
export interface TableRow {
  text: string;
  pair?: string;
  label: string;
}

/** The format of a file by its extension. */
export function formatOf(file: string): TableFormat {
  const ext = extname(file).toLowerCase();
  if (ext === '.csv') return 'csv';
  if (ext === '.tsv' || ext === '.tab') return 'tsv';
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl';
  throw new DataError(`${file}: cannot tell the format from the extension "${ext}" (expected .csv, .tsv or .jsonl); set "format"`, file);
}

/** Calls `onText` with consecutive decoded chunks of a UTF-8 file. */
function readChunks(file: string, onText: (text: string) => void, chunkBytes = 1 << 20): void {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new DataError(code === 'ENOENT' ? `${file} does not exist` : `cannot read ${file}: ${(error as Error).message}`, file);
  }
  try {
    const decoder = new TextDecoder('utf-8');
    const buffer = Buffer.alloc(chunkBytes);
    let first = true;
    for (;;) {
      const n = readSync(fd, buffer, 0, buffer.length, null);
      if (n <= 0) break;
      let text = decoder.decode(buffer.subarray(0, n), { stream: true });
      if (first && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      first = false;
      onText(text);
    }
    const rest = decoder.decode();
    if (rest) onText(rest);
  } finally {
    closeSync(fd);
  }
}

/**
 * Every record of a delimited file, as arrays of fields. `quoted`: RFC 4180 quoting (CSV);
 * otherwise fields are split on the delimiter verbatim (TSV). Lines end with \n or \r\n;
 * blank lines are skipped.
 */
export function forEachRecord(file: string, delimiter: string, quoted: boolean, onRecord: (fields: string[], line: number) => void): void {
  let field = '';
  let fields: string[] = [];
  let inQuotes = false;
  let quotePending = false; // a quote inside a quoted field: either "" or the closing quote
  let line = 1;
  let recordLine = 1;
  let fieldStarted = false;
  const endRecord = () => {
    fields.push(field);
    if (!(fields.length === 1 && fields[0] === '')) onRecord(fields, recordLine);
    fields = [];
    field = '';
    fieldStarted = false;
  };
  const delimiterCode = delimiter.charCodeAt(0);
  readChunks(file, (text) => {
    const n = text.length;
    let i = 0;
    while (i < n) {
      if (quoted && inQuotes) {
        if (quotePending) {
          quotePending = false;
          if (text.charCodeAt(i) === 34) {
            field += '"';
            i++;
            continue;
          }
          inQuotes = false; // the quote closed the field: handle text[i] outside quotes
          continue;
        }
        // Inside quotes: everything up to the next quote is verbatim.
        const q = text.indexOf('"', i);
        const part = text.slice(i, q < 0 ? n : q);
        field += part;
        for (let k = part.indexOf('\n'); k >= 0; k = part.indexOf('\n', k + 1)) line++;
        if (q < 0) break;
        quotePending = true;
        i = q + 1;
        continue;
      }
      const c = text.charCodeAt(i);
      if (c === 10) {
        if (field.endsWith('\r')) field = field.slice(0, -1);
        endRecord();
        line++;
        recordLine = line;
        i++;
      } else if (c === delimiterCode) {
        fields.push(field);
        field = '';
        fieldStarted = false;
        i++;
      } else if (quoted && c === 34 && !fieldStarted) {
        inQuotes = true;
        fieldStarted = true;
        i++;
      } else {
        // A run of plain characters up to the next delimiter or newline (a quote inside an
        // unquoted field is literal).
        let j = i + 1;
        while (j < n) {
          const d = text.charCodeAt(j);
          if (d === 10 || d === delimiterCode) break;
          j++;
        }
        field += text.slice(i, j);
        fieldStarted = true;
        i = j;
      }
    }
  });
  if (quoted && inQuotes && !quotePending) throw new DataError(`${file}: a quoted field opened on line ${recordLine} is never closed`, file);
  if (field !== '' || fields.length > 0) {
    if (field.endsWith('\r')) field = field.slice(0, -1);
    endRecord();
  }
}

/** Every JSON object of a JSONL file (blank lines skipped). */
export function forEachJsonLine(file: string, onObject: (value: Record<string, unknown>, line: number) => void): void {
  let pending = '';
  let line = 0;
  const handle = (raw: string) => {
    line++;
    const s = raw.trim();
    if (!s) return;
    let value: unknown;
    try {
      value = JSON.parse(s);
    } catch (error) {
      throw new DataError(`${file}, line ${line}: not valid JSON (${(error as Error).message})`, file);
    }
    if (!value || typeof value !== 'object' || Array.isArray(value)) throw new DataError(`${file}, line ${line}: expected a JSON object`, file);
    onObject(value as Record<string, unknown>, line);
  };
  readChunks(file, (text) => {
    pending += text;
    let at: number;
    while ((at = pending.indexOf('\n')) >= 0) {
      handle(pending.slice(0, at));
      pending = pending.slice(at + 1);
    }
  });
  if (pending) handle(pending);
}

function refs(ref: ColumnRef | ColumnRef[] | undefined): ColumnRef[] {
  return ref === undefined ? [] : Array.isArray(ref) ? ref : [ref];
}

function cleanText(s: string, unescapeNewlines: boolean): string {
  const t = unescapeNewlines ? s.replace(/\\n/g, ' ') : s;
  return t.replace(/\s+/g, ' ').trim();
}

/**
 * Reads a CSV, TSV or JSONL file into rows of text (+ pair) and label, through a column mapping.
 * A row missing a mapped field is an error naming the file, the line and the field.
 */
export function readTable(file: string, options: TableReadOptions, onRow?: (row: TableRow) => void): TableRow[] {
  const format = options.format ?? formatOf(file);
  const cols = options.columns;
  const all = [...refs(cols.text), ...refs(cols.text_pair), cols.label];
  if (refs(cols.text).length === 0) throw new DataError(`${file}: the column mapping names no text column`, file);
  const unescape = options.unescape_newlines ?? false;
  const rows: TableRow[] = [];
  const emit = (row: TableRow) => (onRow ? onRow(row) : rows.push(row));
  if (format === 'jsonl') {
    const get = (obj: Record<string, unknown>, ref: ColumnRef, line: number): string => {
      let v: unknown = obj;
      for (const part of String(ref).split('.')) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[part] : undefined;
      if (v === undefined || v === null) throw new DataError(`${file}, line ${line}: no field "${ref}" (fields: ${Object.keys(obj).join(', ')})`, file);
      return typeof v === 'string' ? v : String(v);
    };
    forEachJsonLine(file, (obj, line) => {
      const pair = refs(cols.text_pair);
      emit({
        text: cleanText(refs(cols.text).map((r) => get(obj, r, line)).join(' '), unescape),
        ...(pair.length > 0 ? { pair: cleanText(pair.map((r) => get(obj, r, line)).join(' '), unescape) } : {}),
        label: get(obj, cols.label, line).trim(),
      });
    });
    return rows;
  }
  const header = options.header ?? all.some((r) => typeof r === 'string');
  const delimiter = format === 'tsv' ? '\t' : (options.delimiter ?? ',');
  let index: Map<ColumnRef, number> | undefined = header ? undefined : new Map(all.map((r) => [r, Number(r)]));
  let maxIndex = index ? Math.max(...index.values()) : 0;
  if (!header) {
    for (const r of all) {
      if (typeof r !== 'number') throw new DataError(`${file}: column "${r}" is named, but the file is read without a header row; refer to columns by 0-based index or set header: true`, file);
    }
  }
  forEachRecord(file, delimiter, format === 'csv', (fields, line) => {
    if (!index) {
      const names = fields.map((f) => f.trim());
      index = new Map();
      for (const r of all) {
        const at = typeof r === 'number' ? r : names.indexOf(r);
        if (at < 0 || at >= names.length) throw new DataError(`${file}: no column ${JSON.stringify(r)} in the header (columns: ${names.join(', ')})`, file);
        index.set(r, at);
      }
      maxIndex = Math.max(...index.values());
      return;
    }
    if (options.skip_short_rows && fields.length <= maxIndex) return;
    const get = (r: ColumnRef): string => {
      const at = index!.get(r)!;
      if (at >= fields.length) throw new DataError(`${file}, line ${line}: ${fields.length} fields, but column ${JSON.stringify(r)} is field ${at + 1}`, file);
      return fields[at]!;
    };
    const pair = refs(cols.text_pair);
    emit({
      text: cleanText(refs(cols.text).map(get).join(' '), unescape),
      ...(pair.length > 0 ? { pair: cleanText(pair.map(get).join(' '), unescape) } : {}),
      label: get(cols.label).trim(),
    });
  });
  return rows;
}
