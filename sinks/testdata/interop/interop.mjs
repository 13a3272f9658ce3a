// Interop check with DuckDB, an independent Parquet implementation.
// Driven by sinks/interop_test.go; prints one JSON object on stdout.
//
//   node interop.mjs read  <parquet glob>
//       Reads shards written by contrastream: per row the md5 of
//       image.bytes, image.path and label, in file and row order; the
//       column types DuckDB sees; and each file's "huggingface" key-value
//       metadata.
//   node interop.mjs write <folder of N_name.png files> <out.parquet>
//       Writes a Parquet file with DuckDB: a plain BLOB column "image"
//       (the files' bytes) and an INTEGER column "label" (the N in the
//       file name), rows sorted by file name.
import { DuckDBInstance } from '@duckdb/node-api';

const q = (s) => "'" + String(s).replaceAll("'", "''") + "'";

async function main() {
  const [mode, a, b] = process.argv.slice(2);
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  const rows = async (sql) => (await c.runAndReadAll(sql)).getRowObjectsJson();
  if (mode === 'read') {
    const data = await rows(`
      SELECT filename AS file, file_row_number AS row, md5(image.bytes) AS md5,
             octet_length(image.bytes) AS size, image.path AS path, label
      FROM read_parquet(${q(a)}, filename = true, file_row_number = true)
      ORDER BY filename, file_row_number`);
    const types = await rows(`DESCRIBE SELECT image, label FROM read_parquet(${q(a)})`);
    const meta = await rows(`
      SELECT file_name AS file, decode(value) AS value
      FROM parquet_kv_metadata(${q(a)}) WHERE decode(key) = 'huggingface'
      ORDER BY file_name`);
    const version = await rows('SELECT version() AS v');
    console.log(JSON.stringify({
      duckdb: version[0].v,
      rows: data,
      types: Object.fromEntries(types.map((t) => [t.column_name, t.column_type])),
      huggingface: meta,
    }));
  } else if (mode === 'write') {
    const glob = a.replace(/\/$/, '') + '/*.png';
    await c.run(`
      COPY (
        SELECT content AS image,
               CAST(regexp_extract(filename, '([0-9]+)_[^/]*$', 1) AS INTEGER) AS label
        FROM read_blob(${q(glob)}) ORDER BY filename
      ) TO ${q(b)} (FORMAT parquet)`);
    const n = await rows(`SELECT count(*)::INTEGER AS n FROM read_parquet(${q(b)})`);
    const types = await rows(`DESCRIBE SELECT * FROM read_parquet(${q(b)})`);
    console.log(JSON.stringify({
      rows: n[0].n,
      types: Object.fromEntries(types.map((t) => [t.column_name, t.column_type])),
    }));
  } else {
    throw new Error('usage: node interop.mjs read GLOB | write DIR OUT');
  }
}

main().catch((e) => {
  console.error(e.stack || String(e));
  process.exit(1);
});
