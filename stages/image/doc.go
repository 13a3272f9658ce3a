// Package image holds the pixel buffer that every contrastream stage shares.
//
// An [Image] is 8-bit samples in interleaved (HWC) order, with 1 (gray) or 3
// (RGB) channels. That layout matches PIL, so augmentations reproduce
// torchvision's results on PIL images level for level, and it keeps memory
// traffic at one byte per sample: float32 appears only when a batch is
// tensorized.
//
// Decoders write an Image, augmentations read one and write another
// (destination-first: the destination is resized by the callee, reusing its
// buffer), and Tensorize converts it to float32 CHW. Conversions to and from
// the standard library's image.Image ([FromStd], [Image.ToStd]) exist for
// tests, previews and interoperability; they are not on the hot path.
//
// Nothing in this package is safe for concurrent mutation of one Image;
// distinct Images may be used from distinct goroutines freely.
package image
