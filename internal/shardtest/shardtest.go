// Package shardtest holds helpers for the tests of the shard writer and the
// importers (sinks, sinks/idx, sinks/imagefolder): Read reads a shard back
// with arrow/go's own reader (rows, paths, labels, metadata, codecs), Rows
// with the project's (images and labels in shard and row order), and
// EncodeImage makes a small PNG or JPEG. Only tests import it.
package shardtest

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"testing"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/apache/arrow/go/v15/parquet/compress"
	"github.com/apache/arrow/go/v15/parquet/file"
	"github.com/apache/arrow/go/v15/parquet/pqarrow"

	"github.com/contrastream/contrastream/sources"
)

// Row is a row read back from a shard.
type Row struct {
	Image    []byte
	Path     string
	HasPath  bool
	Label    int64
	HasLabel bool
}

// Info is what Read learns about a file.
type Info struct {
	Rows      []Row
	RowGroups int
	Meta      map[string]string // Parquet key-value metadata
	Schema    *arrow.Schema
	Codecs    []compress.Compression // per column chunk of row group 0
}

// Read reads a shard back with arrow/go's own Parquet reader (not the
// project's), for tests of what the shard writer wrote.
func Read(t testing.TB, path string) Info {
	t.Helper()
	pf, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer pf.Close()
	info := Info{RowGroups: pf.NumRowGroups(), Meta: map[string]string{}}
	kv := pf.MetaData().KeyValueMetadata()
	for i, k := range kv.Keys() {
		info.Meta[k] = kv.Values()[i]
	}
	if pf.NumRowGroups() > 0 {
		rg := pf.MetaData().RowGroup(0)
		for c := 0; c < rg.NumColumns(); c++ {
			cc, err := rg.ColumnChunk(c)
			if err != nil {
				t.Fatal(err)
			}
			info.Codecs = append(info.Codecs, cc.Compression())
		}
	}
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	defer tbl.Release()
	info.Schema = tbl.Schema()
	tr := array.NewTableReader(tbl, 1<<20)
	defer tr.Release()
	for tr.Next() {
		rec := tr.Record()
		img := rec.Column(0).(*array.Struct)
		bs := img.Field(0).(*array.Binary)
		ps := img.Field(1).(*array.String)
		var labs *array.Int64
		if rec.NumCols() > 1 {
			labs = rec.Column(1).(*array.Int64)
		}
		for i := 0; i < int(rec.NumRows()); i++ {
			r := Row{Image: bytes.Clone(bs.Value(i)), HasPath: ps.IsValid(i)}
			if r.HasPath {
				r.Path = ps.Value(i)
			}
			if labs != nil && labs.IsValid(i) {
				r.Label, r.HasLabel = labs.Value(i), true
			}
			info.Rows = append(info.Rows, r)
		}
	}
	return info
}

// Rows reads every row of the shards with the project's own reader
// (sources.OpenShard), in shard and row order.
func Rows(t testing.TB, files []string) (imgs [][]byte, labels []int) {
	t.Helper()
	for _, f := range files {
		sh, err := sources.OpenShard(f, sources.Columns{})
		if err != nil {
			t.Fatal(err)
		}
		for u := 0; u < sh.NumUnits(); u++ {
			err := sh.ReadUnit(u, 0, sh.UnitRows(u), func(row int64, img []byte, label int) error {
				imgs = append(imgs, bytes.Clone(img))
				labels = append(labels, label)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	return imgs, labels
}

// EncodeImage returns a w×h RGB test image (a ramp with pixel (0,0) set
// apart) encoded as "png" or, for any other format, JPEG.
func EncodeImage(t testing.TB, format string, w, h int) []byte {
	t.Helper()
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range m.Pix {
		m.Pix[i] = byte(i)
	}
	m.Set(0, 0, color.RGBA{1, 2, 3, 255})
	var b bytes.Buffer
	var err error
	if format == "png" {
		err = png.Encode(&b, m)
	} else {
		err = jpeg.Encode(&b, m, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
