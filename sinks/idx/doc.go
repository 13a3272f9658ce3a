// Package idx is the home of the IDX format (MNIST, Fashion-MNIST, ...):
// its reader, its checks and its importer, with their tests.
//
//   - [Reader] ([Open], [NewReader]) streams the items of one IDX file,
//     gzipped or not, and refuses a file that is not IDX, declares an
//     unknown element type or an item over 256 MiB, or is truncated (an
//     uncompressed file is checked against its size when opened).
//   - [Source] pairs an images file (0x0803) with an optional labels file
//     (0x0801), checks that they agree, and emits one sources.RawImage per
//     item: a pipeline.Producer.
//   - [Import] is `contrastream import idx`: Source → sinks.PNGEncoder run
//     in parallel in input order → Parquet shards (sinks.Import).
//
// The package sits beside sinks (it imports pipeline, sources for RawImage
// and sinks for the shard writer); nothing in the library imports it.
package idx
