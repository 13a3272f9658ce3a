// Package sinks holds the ends of contrastream pipelines: where records,
// images, bad records and results go.
//
//   - [Shards] writes image rows into Parquet shards in the Hugging Face
//     datasets Image layout (image: struct<bytes, path>, label: int64, with
//     the "huggingface" schema metadata), zstd-compressed, rolled over by rows
//     or bytes, each shard written to a temporary name, fsynced and renamed.
//   - [JSONL] is the dead-letter writer: one JSON object per bad record.
//   - [Collect] keeps records in memory (tests and small results).
//   - [WriteSafetensors] and [ParseSafetensors] write and read the Hugging
//     Face safetensors format, byte-compatible with the reference
//     implementation.
//   - [Checkpointer] writes training checkpoints (safetensors compressed with
//     zstd, PyTorch state_dict names, step, cursor, seed and config in the
//     metadata, a checksum) atomically and keeps the last K and a latest
//     pointer; [LoadCheckpoint] verifies and reads one; [ExportEncoder]
//     writes a plain .safetensors of the encoder for PyTorch users.
//   - [MetricsJSONL], [Prometheus] and [Plots] take step and evaluation
//     records; [Metrics] fans a stream of records out to them.
//   - [WriteFileAtomic] is how every file here is written: temporary file,
//     fsync, rename, fsync of the folder.
//   - [ImportIDX], [ImportImages] and [WriteSynth] are the data-in pipelines
//     behind `contrastream import` and `contrastream synth`: a source, an
//     encode stage run in parallel in input order, and a shard sink.
//
// Imports point one way (pipeline ← sources ← stages ← sinks ← cmd): sinks
// uses pipeline, sources and stages (the nn state-dict types for
// checkpoints), and no package below it imports sinks.
package sinks
