// Package imagefolder is the home of the image-folder format (torchvision's
// ImageFolder: DIR/<class>/**/*.{jpg,jpeg,png}, or a flat folder): its
// listing, its check and its importer, with their tests.
//
//   - [Source] lists a folder ([Source.List]: class names from the
//     subfolders, files sorted, hidden names skipped) and emits one [File]
//     per image with its bytes: a pipeline.Producer.
//   - [Import] is `contrastream import images`: Source → a parallel,
//     ordered check by the training decoder (stages/image: a full decode,
//     or with sinks.ImportOptions.HeaderOnly image.DecodeOptions.Check, the
//     header check Decode itself makes first) → Parquet shards
//     (sinks.Import), bytes unchanged, with path and label.
//
// The package sits beside sinks (it imports pipeline, stages/image and
// sinks); nothing in the library imports it.
package imagefolder
