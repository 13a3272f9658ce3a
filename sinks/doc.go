// Package sinks holds the ends of contrastream pipelines: where records,
// images, bad records and results go.
//
//   - [Shards] writes image rows into Parquet shards in the Hugging Face
//     datasets Image layout (image: struct<bytes, path>, label: int64, with
//     the "huggingface" schema metadata), zstd-compressed, rolled over by rows
//     or bytes, each shard written to a temporary name, fsynced and renamed.
//   - [JSONL] is the dead-letter writer: one JSON object per bad record.
//   - [Collect] keeps records in memory (tests and small results).
//   - [Checkpointer] and [Metrics] write training checkpoints and metrics
//     (see their files).
//   - [ImportIDX], [ImportImages] and [WriteSynth] are the data-in pipelines
//     behind `contrastream import` and `contrastream synth`: a source, an
//     encode stage run in parallel in input order, and a shard sink.
//
// Imports point one way: sinks uses pipeline and sources, never stages'
// internals, and no package below it imports sinks.
package sinks
