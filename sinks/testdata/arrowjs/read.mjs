// Reads a contrastream view-batch stream (Arrow IPC stream format) with
// apache-arrow, an Arrow implementation independent of arrow/go, and prints
// one JSON object: the schema (field names, types, nullability, metadata)
// and per record batch the row count, SHA-256 of the pixel values, ids,
// labels (null kept), shards, rows, epochs and positions.
//
//   node read.mjs STREAM_FILE
import { readFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { RecordBatchReader } from "apache-arrow";

const bytes = readFileSync(process.argv[2]);
const reader = RecordBatchReader.from(bytes);
reader.open();
const schema = reader.schema;
const out = {
  fields: schema.fields.map((f) => ({
    name: f.name,
    type: String(f.type),
    nullable: f.nullable,
    metadata: Object.fromEntries(f.metadata),
  })),
  metadata: Object.fromEntries(schema.metadata),
  batches: [],
};
for (const batch of reader) {
  const views = batch.getChild("views");
  if (views.data.length !== 1) throw new Error(`views in ${views.data.length} chunks`);
  const d = views.data[0];
  const child = d.children[0];
  const listSize = d.type.listSize;
  const pixels = child.values.subarray(child.offset + d.offset * listSize, child.offset + (d.offset + d.length) * listSize);
  const col = (name) => Array.from(batch.getChild(name).toArray());
  const labels = [];
  const lab = batch.getChild("label");
  for (let i = 0; i < batch.numRows; i++) {
    const v = lab.get(i);
    labels.push(v === null ? null : Number(v));
  }
  out.batches.push({
    rows: batch.numRows,
    pixels_sha256: createHash("sha256").update(pixels).digest("hex"),
    pixel_bytes: pixels.length,
    ids: col("id").map(String),
    labels,
    shards: Array.from({ length: batch.numRows }, (_, i) => batch.getChild("shard").get(i)),
    rows_in_shard: col("row").map(Number),
    epochs: col("epoch").map(Number),
    positions: col("position").map(Number),
  });
}
process.stdout.write(JSON.stringify(out));
