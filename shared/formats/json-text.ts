/**
 * Lossless JSON parsing for records.
 *
 * `JSON.parse` turns `12345678901234567890` into 12345678901234567000 and `1.0` into 1, so a reader
 * using it could neither infer types exactly nor keep values unaltered. This parser keeps the source
 * text of every number that is not a plain safe integer (`JsonNumber`), and of every nested object or
 * array at the top level of a record (`JsonRaw`: bronze keeps nested values as their JSON text).
 */

/** A JSON number kept as its source text (fraction, exponent, or more than 15 digits). */
export class JsonNumber {
  /** @param text the literal as written */
  constructor(readonly text: string) {}
}

/** A nested JSON object or array kept as its exact source text. */
export class JsonRaw {
  /** @param text the JSON text as written */
  constructor(readonly text: string) {}
}

/** A syntax error with the character position it was found at. */
export class JsonSyntaxError extends Error {
  /**
   * @param message what is wrong
   * @param position character index in the parsed text
   */
  constructor(
    message: string,
    readonly position: number,
  ) {
    super(`${message} at character ${position + 1}`);
  }
}

const WS = new Uint8Array(128);
WS[0x20] = WS[0x09] = WS[0x0a] = WS[0x0d] = 1;

class Parser {
  pos = 0;
  constructor(readonly text: string) {}

  fail(message: string): never {
    // Without a stack: the error becomes a bad record's reason, and capturing stacks was most of the
    // time spent on a file of a million malformed lines.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    const error = new JsonSyntaxError(message, this.pos);
    Error.stackTraceLimit = limit;
    throw error;
  }

  ws(): void {
    const t = this.text;
    let p = this.pos;
    for (;;) {
      const c = t.charCodeAt(p);
      if (c < 128 && WS[c]) p++;
      else break;
    }
    this.pos = p;
  }

  string(): string {
    const t = this.text;
    const start = this.pos + 1;
    const close = t.indexOf('"', start);
    if (close < 0) {
      this.pos = t.length;
      this.fail('unterminated string');
    }
    const backslash = t.indexOf('\\', start);
    if (backslash < 0 || backslash > close) {
      this.pos = close + 1;
      return t.slice(start, close);
    }
    let out = '';
    let p = start;
    for (;;) {
      const c = t.charCodeAt(p);
      if (Number.isNaN(c)) {
        this.pos = p;
        this.fail('unterminated string');
      }
      if (c === 34) break;
      if (c === 92) {
        const n = t.charCodeAt(p + 1);
        switch (n) {
          case 34:
            out += '"';
            break;
          case 92:
            out += '\\';
            break;
          case 47:
            out += '/';
            break;
          case 98:
            out += '\b';
            break;
          case 102:
            out += '\f';
            break;
          case 110:
            out += '\n';
            break;
          case 114:
            out += '\r';
            break;
          case 116:
            out += '\t';
            break;
          case 117: {
            const hex = t.slice(p + 2, p + 6);
            if (!/^[0-9a-fA-F]{4}$/.test(hex)) {
              this.pos = p;
              this.fail('invalid \\u escape');
            }
            out += String.fromCharCode(parseInt(hex, 16));
            p += 4;
            break;
          }
          default:
            this.pos = p;
            this.fail('invalid escape');
        }
        p += 2;
        continue;
      }
      // Copy the run up to the next special character in one slice.
      let q = p + 1;
      while (q < t.length) {
        const d = t.charCodeAt(q);
        if (d === 34 || d === 92) break;
        q++;
      }
      out += t.slice(p, q);
      p = q;
    }
    this.pos = p + 1;
    return out;
  }

  number(): number | JsonNumber {
    const t = this.text;
    const start = this.pos;
    let p = start;
    if (t.charCodeAt(p) === 45) p++;
    const intStart = p;
    let c = t.charCodeAt(p);
    if (c === 48) p++;
    else if (c >= 49 && c <= 57) {
      do p++;
      while ((c = t.charCodeAt(p)) >= 48 && c <= 57);
    } else {
      this.pos = p;
      this.fail('invalid number');
    }
    const intDigits = p - intStart;
    let plain = true;
    if (t.charCodeAt(p) === 46) {
      plain = false;
      p++;
      const f = p;
      while ((c = t.charCodeAt(p)) >= 48 && c <= 57) p++;
      if (p === f) {
        this.pos = p;
        this.fail('invalid number');
      }
    }
    c = t.charCodeAt(p);
    if (c === 101 || c === 69) {
      plain = false;
      p++;
      c = t.charCodeAt(p);
      if (c === 43 || c === 45) p++;
      const f = p;
      while ((c = t.charCodeAt(p)) >= 48 && c <= 57) p++;
      if (p === f) {
        this.pos = p;
        this.fail('invalid number');
      }
    }
    this.pos = p;
    const text = t.slice(start, p);
    return plain && intDigits <= 15 ? Number(text) : new JsonNumber(text);
  }

  literal(word: string, value: unknown): unknown {
    if (!this.text.startsWith(word, this.pos)) this.fail('unexpected token');
    this.pos += word.length;
    return value;
  }

  /** Parse a value; objects and arrays are built only when `build`, else just checked. */
  value(build: boolean, depth: number): unknown {
    if (depth > 512) this.fail('nesting too deep');
    this.ws();
    const c = this.text.charCodeAt(this.pos);
    switch (c) {
      case 34:
        return this.string();
      case 123:
        return this.object(build, depth);
      case 91:
        return this.array(build, depth);
      case 116:
        return this.literal('true', true);
      case 102:
        return this.literal('false', false);
      case 110:
        return this.literal('null', null);
    }
    if (c === 45 || (c >= 48 && c <= 57)) return this.number();
    return this.fail(Number.isNaN(c) ? 'unexpected end of input' : 'unexpected token');
  }

  object(build: boolean, depth: number): Record<string, unknown> | null {
    this.pos++;
    const out: Record<string, unknown> | null = build ? (Object.create(null) as Record<string, unknown>) : null;
    this.ws();
    if (this.text.charCodeAt(this.pos) === 125) {
      this.pos++;
      return out;
    }
    for (;;) {
      this.ws();
      if (this.text.charCodeAt(this.pos) !== 34) this.fail('expected a property name');
      const key = this.string();
      this.ws();
      if (this.text.charCodeAt(this.pos) !== 58) this.fail("expected ':'");
      this.pos++;
      const v = this.value(build, depth + 1);
      if (out) out[key] = v;
      this.ws();
      const c = this.text.charCodeAt(this.pos);
      this.pos++;
      if (c === 44) continue;
      if (c === 125) return out;
      this.pos--;
      this.fail("expected ',' or '}'");
    }
  }

  array(build: boolean, depth: number): unknown[] | null {
    this.pos++;
    const out: unknown[] | null = build ? [] : null;
    this.ws();
    if (this.text.charCodeAt(this.pos) === 93) {
      this.pos++;
      return out;
    }
    for (;;) {
      const v = this.value(build, depth + 1);
      if (out) out.push(v);
      this.ws();
      const c = this.text.charCodeAt(this.pos);
      this.pos++;
      if (c === 44) continue;
      if (c === 93) return out;
      this.pos--;
      this.fail("expected ',' or ']'");
    }
  }

  end(): void {
    this.ws();
    if (this.pos < this.text.length) this.fail('unexpected data after the value');
  }
}

/**
 * Parse one JSON object as a record, handing each member to `sink` in order. Scalars arrive as
 * string, number (plain integers up to 15 digits), `JsonNumber`, boolean or null; nested objects and
 * arrays as `JsonRaw`.
 *
 * @param text the JSON text of one record
 * @param sink receives each member
 * @returns null on success, or the reason the text is not a JSON object
 */
export function parseJsonRecord(text: string, sink: (key: string, value: unknown) => void): string | null {
  const p = new Parser(text);
  try {
    p.ws();
    if (p.text.charCodeAt(p.pos) !== 123) {
      if (p.pos >= text.length) return 'empty JSON text';
      const c = text.charCodeAt(p.pos);
      p.value(false, 0);
      p.end();
      const kind = c === 91 ? 'an array' : c === 34 ? 'a string' : c === 110 ? 'null' : c === 116 || c === 102 ? 'a boolean' : 'a number';
      return `not a JSON object (${kind})`;
    }
    p.pos++;
    p.ws();
    if (text.charCodeAt(p.pos) === 125) {
      p.pos++;
      p.end();
      return null;
    }
    // Members are collected first so a syntax error late in the record emits nothing.
    const keys: string[] = [];
    const values: unknown[] = [];
    for (;;) {
      p.ws();
      if (text.charCodeAt(p.pos) !== 34) p.fail('expected a property name');
      keys.push(p.string());
      p.ws();
      if (text.charCodeAt(p.pos) !== 58) p.fail("expected ':'");
      p.pos++;
      p.ws();
      const c = text.charCodeAt(p.pos);
      if (c === 123 || c === 91) {
        const start = p.pos;
        p.value(false, 1);
        values.push(new JsonRaw(text.slice(start, p.pos)));
      } else values.push(p.value(false, 1));
      p.ws();
      const sep = text.charCodeAt(p.pos);
      p.pos++;
      if (sep === 44) continue;
      if (sep === 125) break;
      p.pos--;
      p.fail("expected ',' or '}'");
    }
    p.end();
    for (let i = 0; i < keys.length; i++) sink(keys[i], values[i]);
    return null;
  } catch (err) {
    if (err instanceof JsonSyntaxError) return `malformed JSON: ${err.message}`;
    throw err;
  }
}

/**
 * Parse JSON text fully: objects and arrays as plain JS values, numbers as in `parseJsonRecord`.
 *
 * @param text JSON text
 * @returns the value; throws `JsonSyntaxError`
 */
export function parseJsonValue(text: string): unknown {
  const p = new Parser(text);
  const v = p.value(true, 0);
  p.end();
  return v;
}

/**
 * JSON text of a value produced by these parsers (or plain JS values), keeping numbers and raw
 * nested text as written.
 *
 * @param value the value
 * @returns JSON text
 */
export function toJsonText(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (value instanceof JsonNumber || value instanceof JsonRaw) return value.text;
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? String(value) : JSON.stringify(String(value));
    case 'bigint':
      return value.toString();
    case 'boolean':
      return value ? 'true' : 'false';
  }
  if (value instanceof Uint8Array) return JSON.stringify(Buffer.from(value).toString('base64'));
  if (value instanceof Map) return `{${[...value].map(([k, v]) => `${JSON.stringify(String(k))}:${toJsonText(v)}`).join(',')}}`;
  if (Array.isArray(value)) return `[${value.map(toJsonText).join(',')}]`;
  return `{${Object.entries(value as object)
    .map(([k, v]) => `${JSON.stringify(k)}:${toJsonText(v)}`)
    .join(',')}}`;
}
