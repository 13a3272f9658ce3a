// Peer for BenchmarkParquetSource: DuckDB (C++, an independent Parquet
// implementation) scanning the image bytes of the same shards on one thread.
//
//   SOURCES_BENCH_DIR=/tmp/sb go test ./sources -run XXX -bench 'ParquetSource/100KB/direct$' -benchtime 1x
//   NODE_PATH=sinks/testdata/interop/node_modules node sources/testdata/peer_duckdb_scan.cjs /tmp/sb/img102400-rg33554432-arrowfalse [rounds]
//
// (the node module is the one sinks' interop test installs: npm ci in
// sinks/testdata/interop). It runs SELECT count(*), sum(octet_length(image.bytes))
// over the files `rounds` times with threads=1 and prints one JSON line per
// round: image bytes per wall second and per CPU second of the process.
const { DuckDBInstance } = require('@duckdb/node-api');

async function main() {
  const [dir, roundsArg] = process.argv.slice(2);
  const rounds = Number(roundsArg || 5);
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  await c.run('SET threads TO 1');
  // Read the file each round, as the Go reader does (no in-process cache).
  await c.run('SET enable_external_file_cache = false');
  const glob = `${dir}/*.parquet`.replaceAll("'", "''");
  const sql = `SELECT count(*)::BIGINT AS n, sum(octet_length(image.bytes))::BIGINT AS bytes FROM read_parquet('${glob}')`;
  await c.runAndReadAll(sql); // warm the page cache
  for (let r = 0; r < rounds; r++) {
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    const row = (await c.runAndReadAll(sql)).getRowObjectsJson()[0];
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpuU = process.cpuUsage(cpu0);
    const cpu = (cpuU.user + cpuU.system) / 1e6;
    const bytes = Number(row.bytes);
    console.log(JSON.stringify({ peer: 'duckdb', threads: 1, rows: Number(row.n), bytes,
      wall_s: wall, cpu_s: cpu, gb_per_s: bytes / wall / 1e9, gb_per_cpu_s: bytes / cpu / 1e9 }));
  }
}
main().catch((e) => { console.error(e); process.exit(1); });
