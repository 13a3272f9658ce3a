package sources

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/ipc"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/apache/arrow/go/v15/parquet"
	"github.com/apache/arrow/go/v15/parquet/compress"
	"github.com/apache/arrow/go/v15/parquet/pqarrow"
)

// fixture describes a test shard. Every row's image is fixtureImage(name,
// row, ImageSize) and its label fixtureLabel(row), so readers can be checked
// row by row.
type fixture struct {
	Units     []int // rows per row group / record batch
	ImageSize int   // bytes per image (≥ 16)
	Arrow     bool  // Arrow IPC file instead of Parquet
	Stream    bool  // with Arrow: the IPC stream format instead of the file format
	Plain     bool  // a plain binary "jpeg" column instead of the HF struct
	Large     bool  // large_binary instead of binary
	LabelType arrow.DataType
	NoLabel   bool
	NullEvery int // every NullEvery-th row has a null image and label (0: none)
	Zstd      bool
	// Parquet writer options for the page-reader tests: a codec other than
	// snappy/zstd, v2 data pages, dictionary encoding, small pages (a few
	// rows per page) and images repeating every Repeat rows (so that
	// dictionaries and compression have something to find).
	Codec    *compress.Compression
	PageV2   bool
	Dict     bool
	SmallPgs bool
	Repeat   int
	Required bool // with Plain: the "jpeg" column is required (no definition levels)
	// The writer's created_by, and a key to encrypt the columns with (the
	// footer stays in plaintext).
	CreatedBy  string
	EncryptKey string
}

func fixtureImage(name string, row int64, size int) []byte {
	b := make([]byte, size)
	fillFixtureImage(b, name, row)
	return b
}

func fillFixtureImage(b []byte, name string, row int64) {
	h := mix64(fnv1a64(name) ^ uint64(row))
	binary.LittleEndian.PutUint64(b, uint64(row))
	for i := 8; i < len(b); i += 8 {
		h = mix64(h)
		var w [8]byte
		binary.LittleEndian.PutUint64(w[:], h)
		copy(b[i:], w[:])
	}
}

func fixtureLabel(row int64) int { return int(row % 10) }

// writeFixture writes the shard dir/name and returns its path.
func writeFixture(tb testing.TB, dir, name string, fx fixture) string {
	tb.Helper()
	if fx.ImageSize == 0 {
		fx.ImageSize = 64
	}
	if fx.LabelType == nil {
		fx.LabelType = arrow.PrimitiveTypes.Int64
	}
	bin := arrow.DataType(arrow.BinaryTypes.Binary)
	if fx.Large {
		bin = arrow.BinaryTypes.LargeBinary
	}
	var fields []arrow.Field
	if fx.Plain {
		fields = append(fields, arrow.Field{Name: "id", Type: arrow.PrimitiveTypes.Int64}, arrow.Field{Name: "jpeg", Type: bin, Nullable: !fx.Required})
	} else {
		fields = append(fields, arrow.Field{Name: "image", Nullable: true, Type: arrow.StructOf(
			arrow.Field{Name: "bytes", Type: bin, Nullable: true},
			arrow.Field{Name: "path", Type: arrow.BinaryTypes.String, Nullable: true})})
	}
	if !fx.NoLabel {
		fields = append(fields, arrow.Field{Name: "label", Type: fx.LabelType, Nullable: true})
	}
	md := arrow.NewMetadata([]string{"huggingface"}, []string{`{"info": {"features": {"image": {"_type": "Image"}, "label": {"_type": "ClassLabel"}}}}`})
	schema := arrow.NewSchema(fields, &md)

	path := filepath.Join(dir, name)
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var write func(arrow.Record) error
	var closeW func() error
	if fx.Arrow && fx.Stream {
		w := ipc.NewWriter(f, ipc.WithSchema(schema))
		write, closeW = w.Write, w.Close
	} else if fx.Arrow {
		w, err := ipc.NewFileWriter(f, ipc.WithSchema(schema))
		if err != nil {
			tb.Fatal(err)
		}
		write, closeW = w.Write, w.Close
	} else {
		codec := compress.Codecs.Snappy
		if fx.Zstd {
			codec = compress.Codecs.Zstd
		}
		if fx.Codec != nil {
			codec = *fx.Codec
		}
		opts := []parquet.WriterProperty{parquet.WithCompression(codec), parquet.WithDictionaryDefault(fx.Dict), parquet.WithMaxRowGroupLength(1 << 30)}
		if fx.PageV2 {
			opts = append(opts, parquet.WithDataPageVersion(parquet.DataPageV2))
		}
		if fx.SmallPgs {
			opts = append(opts, parquet.WithBatchSize(3), parquet.WithDataPageSize(int64(2*fx.ImageSize)))
		}
		if fx.CreatedBy != "" {
			opts = append(opts, parquet.WithCreatedBy(fx.CreatedBy))
		}
		if fx.EncryptKey != "" {
			opts = append(opts, parquet.WithEncryptionProperties(parquet.NewFileEncryptionProperties(fx.EncryptKey, parquet.WithPlaintextFooter())))
		}
		props := parquet.NewWriterProperties(opts...)
		w, err := pqarrow.NewFileWriter(schema, f, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
		if err != nil {
			tb.Fatal(err)
		}
		write, closeW = w.Write, w.Close
	}
	img := make([]byte, fx.ImageSize)
	var row int64
	for _, n := range fx.Units {
		b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
		for range n {
			null := fx.NullEvery > 0 && row%int64(fx.NullEvery) == int64(fx.NullEvery-1)
			if fx.Repeat > 0 {
				fillFixtureImage(img, name, row%int64(fx.Repeat))
			} else {
				fillFixtureImage(img, name, row)
			}
			col := 0
			var bytesB array.Builder
			if fx.Plain {
				b.Field(0).(*array.Int64Builder).Append(row)
				bytesB = b.Field(1)
				col = 2
			} else {
				sb := b.Field(0).(*array.StructBuilder)
				sb.Append(true)
				bytesB = sb.FieldBuilder(0)
				sb.FieldBuilder(1).(*array.StringBuilder).Append(fmt.Sprintf("%d.png", row))
				col = 1
			}
			switch bb := bytesB.(type) {
			case *array.BinaryBuilder:
				if null {
					bb.AppendNull()
				} else {
					bb.Append(img)
				}
			}
			if !fx.NoLabel {
				appendLabel(b.Field(col), fixtureLabel(row), null)
			}
			row++
		}
		rec := b.NewRecord()
		if err := write(rec); err != nil {
			tb.Fatal(err)
		}
		rec.Release()
		b.Release()
	}
	if err := closeW(); err != nil {
		tb.Fatal(err)
	}
	return path
}

func appendLabel(b array.Builder, v int, null bool) {
	if null {
		b.AppendNull()
		return
	}
	switch lb := b.(type) {
	case *array.Int8Builder:
		lb.Append(int8(v))
	case *array.Int16Builder:
		lb.Append(int16(v))
	case *array.Int32Builder:
		lb.Append(int32(v))
	case *array.Int64Builder:
		lb.Append(int64(v))
	case *array.Uint8Builder:
		lb.Append(uint8(v))
	case *array.Uint16Builder:
		lb.Append(uint16(v))
	case *array.Uint32Builder:
		lb.Append(uint32(v))
	case *array.Uint64Builder:
		lb.Append(uint64(v))
	case *array.StringBuilder:
		lb.Append(fmt.Sprint(v))
	default:
		panic(fmt.Sprintf("label builder %T", b))
	}
}

// writeIntsOnly writes a Parquet file with integer columns only.
func writeIntsOnly(tb testing.TB, path string) {
	tb.Helper()
	schema := arrow.NewSchema([]arrow.Field{{Name: "a", Type: arrow.PrimitiveTypes.Int64}, {Name: "b", Type: arrow.PrimitiveTypes.Int32}}, nil)
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	w, err := pqarrow.NewFileWriter(schema, f, parquet.NewWriterProperties(), pqarrow.DefaultWriterProps())
	if err != nil {
		tb.Fatal(err)
	}
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	b.Field(0).(*array.Int64Builder).AppendValues([]int64{1, 2}, nil)
	b.Field(1).(*array.Int32Builder).AppendValues([]int32{1, 2}, nil)
	rec := b.NewRecord()
	if err := w.Write(rec); err != nil {
		tb.Fatal(err)
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
}
