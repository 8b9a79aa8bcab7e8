// Independent check of queryd's Arrow IPC stream: the npm `apache-arrow` reader parses it, and
// every value of every column is compared with the JSON output of the same query.
//   node arrow_check.mjs QUERYD_DUMP   (QUERYD_DUMP: build-*/queryd/tests/queryd_dump)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import * as A from 'apache-arrow';

const dump = process.argv[2];
if (!dump) { console.error('usage: node arrow_check.mjs QUERYD_DUMP'); process.exit(2); }

// Every type queryd encodes, a row of values and a row of nulls.
const TYPES_SQL = `
SELECT * FROM (VALUES
  (true, 1::TINYINT, 300::SMALLINT, 70000::INTEGER, 9007199254740993::BIGINT, 255::UTINYINT, 18446744073709551615::UBIGINT,
   170141183460469231731687303715884105727::HUGEINT, 0.1::FLOAT, 0.1::DOUBLE, 123.4::DECIMAL(4,1),
   -123456789012345.678::DECIMAL(18,3), 12345678901234567890.0123456789::DECIMAL(30,10), -0.05::DECIMAL(9,2),
   'plain', 'a "quoted", comma' || chr(10) || 'newline é', '\\x00\\x01AB'::BLOB, DATE '2024-02-29', DATE '1901-12-31',
   TIME '13:14:15.5', TIMESTAMP '2024-02-29 13:14:15.123456', TIMESTAMP_MS '1969-12-31 23:59:59.999',
   TIMESTAMP_NS '2024-01-01 00:00:00.000000001', TIMESTAMP_S '2000-01-01 00:00:01', TIMESTAMPTZ '2024-05-06 07:08:09+00',
   INTERVAL '1 year 2 months 3 days 04:05:06', [1, NULL, 3], ['x', 'y'], {'k': 1, 's': 'v'}, MAP {'a': 1, 'b': 2},
   [1, 2, 3]::INTEGER[3], 'abc'::ENUM('abc', 'def'), '6ba7b810-9dad-11d1-80b4-00c04fd430c8'::UUID, NULL, '',
   [[1, 2], [3]], [{'a': 1}]),
  (NULL, NULL, NULL, NULL, -5, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
   NULL, NULL, NULL, NULL, NULL, NULL, [], NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)
) t(b, i8, i16, i32, i64, u8, u64, h, f32, f64, d4, d18, d30, dneg, s, s_special, bin, dt, dt_old, tm, ts, ts_ms, ts_ns,
    ts_s, tstz, iv, li, ls, st, mp, arr, en, id, nul, empty, nested, list_of_struct)`;

// Many rows over several record batches, nulls scattered through every column.
const BULK_SQL = `
SELECT CASE WHEN i % 7 = 0 THEN NULL ELSE i END AS id,
       CASE WHEN i % 5 = 0 THEN NULL ELSE 'name_' || i END AS name,
       CASE WHEN i % 3 = 0 THEN NULL ELSE (i * 1.25)::DECIMAL(18,2) END AS amount,
       CASE WHEN i % 11 = 0 THEN NULL ELSE i * 0.5 END AS x,
       CASE WHEN i % 13 = 0 THEN NULL ELSE i % 2 = 0 END AS flag,
       CASE WHEN i % 17 = 0 THEN NULL ELSE DATE '2020-01-01' + (i % 1000)::INTEGER END AS day,
       CASE WHEN i % 19 = 0 THEN NULL ELSE TIMESTAMP '2020-01-01' + to_microseconds(i * 1000003) END AS ts,
       CASE WHEN i % 23 = 0 THEN NULL ELSE [i, i + 1] END AS pair
FROM range(150000) t(i)`;

const dir = mkdtempSync(join(tmpdir(), 'arrow-check-'));
function run(format, sql) {
  const out = join(dir, `out.${format}`);
  execFileSync(dump, [format, out, sql], { stdio: ['ignore', 'ignore', 'inherit'] });
  return readFileSync(out);
}

const pad = (n, w = 2) => String(n).padStart(w, '0');
function civil(days) {  // days since epoch -> YYYY-MM-DD
  const d = new Date(Number(days) * 86400000);
  return `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
}
function timeOfDay(units, perSecond, digits) {  // BigInt units since midnight -> HH:MM:SS[.frac]
  const secs = units / perSecond;
  const frac = units % perSecond;
  let s = `${pad(secs / 3600n)}:${pad((secs / 60n) % 60n)}:${pad(secs % 60n)}`;
  if (frac !== 0n) s += '.' + frac.toString().padStart(digits, '0').replace(/0+$/, '');
  return s;
}
const UNIT = { 0: [1n, 0], 1: [1000n, 3], 2: [1000000n, 6], 3: [1000000000n, 9] };
function timestamp(raw, unit, tz) {
  const [per, digits] = UNIT[unit];
  const perDay = per * 86400n;
  let days = raw / perDay, rest = raw % perDay;
  if (rest < 0n) { rest += perDay; days -= 1n; }
  return `${civil(days)}T${timeOfDay(rest, per, digits)}${tz ? 'Z' : ''}`;
}
function interval(months, days, nanos) {
  const parts = [];
  const part = (n, u) => { if (n !== 0) parts.push(`${n} ${u}${Math.abs(n) === 1 ? '' : 's'}`); };
  part(Math.trunc(months / 12), 'year'); part(months % 12, 'month'); part(days, 'day');
  if (nanos !== 0n || parts.length === 0) {
    parts.push((nanos < 0n ? '-' : '') + timeOfDay(nanos < 0n ? -nanos : nanos, 1000000000n, 9));
  }
  return parts.join(' ');
}
function decimal(unscaled, scale) {
  let neg = unscaled.startsWith('-'), digits = neg ? unscaled.slice(1) : unscaled;
  if (scale <= 0) return (neg ? '-' : '') + digits + '0'.repeat(-scale);
  digits = digits.padStart(scale + 1, '0');
  return (neg ? '-' : '') + digits.slice(0, -scale) + '.' + digits.slice(-scale);
}

// The raw physical value at row i of a Vector (bypasses the reader's conversions to JS Dates/ms).
function raw(vector, i) {
  for (const data of vector.data) {
    if (i < data.length) return data.values[data.offset + i];
    i -= data.length;
  }
  throw new Error('row out of range');
}

// Arrow value -> the value queryd's JSON encoding promises for it.
function expected(type, vector, i) {
  if (!vector.isValid(i)) return null;
  const v = vector.get(i);
  switch (type.typeId) {
    case A.Type.Bool: case A.Type.Utf8: return v;
    case A.Type.Int: {
      if (typeof v !== 'bigint') return v;
      const big = v > 9007199254740992n || v < -9007199254740992n;
      return big ? v.toString() : Number(v);
    }
    case A.Type.Float: return v;
    case A.Type.Decimal: return decimal(v.toString(), type.scale);
    case A.Type.Binary: return Buffer.from(v).toString('base64');
    case A.Type.Date: return civil(Math.floor(v / 86400000));
    case A.Type.Time: return timeOfDay(BigInt(raw(vector, i)), ...UNIT[type.unit]);
    case A.Type.Timestamp: return timestamp(BigInt(raw(vector, i)), type.unit, type.timezone);
    case A.Type.Interval: {
      const w = v;  // Int32Array [months, days, nanos lo, nanos hi]
      const nanos = (BigInt(w[3]) << 32n) | BigInt(w[2] >>> 0);
      return interval(w[0], w[1], nanos);
    }
    case A.Type.List: case A.Type.FixedSizeList: {
      const child = type.children[0].type;
      return Array.from({ length: v.length }, (_, k) => expected(child, v, k));
    }
    case A.Type.Struct: {
      const o = {};
      type.children.forEach((f, k) => { o[f.name] = expected(f.type, vector.getChildAt(k), i); });
      return o;
    }
    case A.Type.Map: {
      const entries = type.children[0].type;
      const keys = v[Symbol.for('keys')] ?? null;
      const out = [];
      // MapRow iterates [key, value] pairs; keys and values of this test's maps are scalars.
      for (const [key, value] of v) out.push({ key, value });
      void entries; void keys;
      return out;
    }
    case A.Type.Null: return null;
    default: throw new Error(`no expectation for ${type}`);
  }
}

function sameValue(type, fromArrow, fromJson, where) {
  if (type.typeId === A.Type.Float && type.precision === A.Precision.SINGLE && fromJson !== null && typeof fromJson === 'number') {
    assert.equal(Math.fround(fromJson), fromArrow, where);
    return;
  }
  assert.deepEqual(fromArrow, fromJson, where);
}

let compared = 0;
for (const [label, sql] of [['types', TYPES_SQL], ['bulk', BULK_SQL]]) {
  const json = JSON.parse(run('json', sql).toString('utf8'));
  const table = A.tableFromIPC(run('arrow', sql));
  assert.equal(table.numRows, json.rows.length, `${label}: row count`);
  assert.deepEqual(table.schema.fields.map((f) => f.name), json.columns.map((c) => c.name), `${label}: column names`);
  if (label === 'bulk') assert.ok(table.batches.length >= 2, 'bulk result spans several record batches');
  table.schema.fields.forEach((field, c) => {
    const vector = table.getChildAt(c);
    let nulls = 0;
    for (let i = 0; i < table.numRows; i++) {
      const want = json.rows[i][c];
      if (want === null) nulls++;
      sameValue(field.type, expected(field.type, vector, i), want, `${label}.${field.name}[${i}] (${field.type})`);
      compared++;
    }
    assert.equal(vector.nullCount, nulls, `${label}.${field.name}: null count`);
  });
}
rmSync(dir, { recursive: true, force: true });
console.log(`arrow_check: ${compared} values equal in Arrow (apache-arrow ${A.util ? 'reader' : ''}) and JSON`);
