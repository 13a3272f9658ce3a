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
//   - [MetricsJSONL], [Prometheus], [Plots] and [Progress] take a run's
//     typed step and evaluation records (train.Metrics); train.Report hands
//     a Trainer's records to them, [RunFolder] wires a whole run folder.
//   - [WriteFileAtomic] is how every file here is written: temporary file,
//     fsync, rename, fsync of the folder.
//   - [Import] is the run every data-in pipeline shares: a source and a
//     per-record stage (run in parallel in input order, see
//     [ImportOptions.StageOptions]) → a Shards sink, with dead letters, a
//     bad-record budget, progress and an [ImportSummary]. [PNGEncoder] is
//     the stage of the importers that have pixels. [WriteSynth]
//     (`contrastream synth`) is one such pipeline, over sources.Synth.
//   - Each foreign format lives in one folder with its reader, checks,
//     import pipeline and tests: package sinks/idx (MNIST-format IDX files,
//     `contrastream import idx`) and sinks/imagefolder (JPEG and PNG
//     folders, `contrastream import images`, each file checked by the
//     training decoder: fully by image.Decode, or with
//     ImportOptions.HeaderOnly by image.DecodeOptions.Check, the check
//     Decode makes first). They sit beside sinks because an importer ends
//     in the shard writer; nothing in the library imports them.
//   - Package sinks/quickstart is `contrastream quickstart` as one call
//     (quickstart.Run): synthetic data, preview, baselines, a training run
//     into a RunFolder and the scores before and after.
//
// Imports point one way (pipeline ← sources ← stages ← sinks ← cmd): sinks
// uses pipeline, sources and stages (the nn state-dict types for
// checkpoints), and no package below it imports sinks.
package sinks
