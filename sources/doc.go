// Package sources reads the records a contrastream pipeline starts from.
//
// The shard readers in this package read Parquet (*.parquet) and Arrow IPC
// (*.arrow: the file format, and the stream format that Hugging Face
// datasets caches) shards with github.com/apache/arrow/go/v15 and emit one
// *Sample per image:
//
//   - Discovery: [Discover] turns a glob, a directory or a comma-separated list
//     of them into a sorted, de-duplicated list of files.
//   - Reading: [OpenShard] reads a shard's metadata only (Parquet footer, Arrow
//     IPC footer and message headers) and finds the image and label columns;
//     [Shard.ReadUnit] reads one work unit — a Parquet row group or an Arrow
//     record batch — touching only those columns. Parquet column chunks go
//     through a fast page reader (one read per chunk, reused buffers, arrow/go's
//     decoders) for uncompressed, snappy and zstd data, and arrow/go's own page
//     reader otherwise.
//   - Planning: [NewPlan] orders the work units of every epoch (a seeded
//     permutation of the units), splits the epoch's rows between ranks so that
//     every rank gets exactly the same number of samples, and mixes them with a
//     bounded shuffle buffer. The whole order is a function of the metadata,
//     the seed and the epoch, so a [Cursor] (epoch, position) is enough to
//     resume a stopped source exactly where it stopped without reading the
//     image bytes that were already emitted.
//   - Streaming: [NewSource] and the pipeline constructor [Parquet] read the
//     units a plan asks for with bounded read-ahead and emit samples.
//
// Sample ids are stable: they are derived from the shard's base name and the
// row (see [SampleID]), never from arrival order, so per-sample random choices
// keyed by the id are the same for every worker count, rank count and resume.
package sources
