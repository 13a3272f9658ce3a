package sources_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/apache/arrow/go/v15/parquet"
	"github.com/apache/arrow/go/v15/parquet/pqarrow"
	"github.com/contrastream/contrastream/pipeline"
	"github.com/contrastream/contrastream/pipeline/pipelinetest"
	"github.com/contrastream/contrastream/sources"
)

// writeExampleShard writes a Parquet shard in the Hugging Face Image layout
// (image: struct<bytes: binary, path: string>, label: int64) with rows
// "img-<row>" in row groups of the given sizes.
func writeExampleShard(path string, rowGroups ...int) error {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "image", Type: arrow.StructOf(
			arrow.Field{Name: "bytes", Type: arrow.BinaryTypes.Binary, Nullable: true},
			arrow.Field{Name: "path", Type: arrow.BinaryTypes.String, Nullable: true}), Nullable: true},
		{Name: "label", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	}, nil)
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	w, err := pqarrow.NewFileWriter(schema, f, parquet.NewWriterProperties(), pqarrow.DefaultWriterProps())
	if err != nil {
		return err
	}
	row := 0
	for _, n := range rowGroups {
		b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
		img := b.Field(0).(*array.StructBuilder)
		for range n {
			img.Append(true)
			img.FieldBuilder(0).(*array.BinaryBuilder).Append(fmt.Appendf(nil, "img-%d", row))
			img.FieldBuilder(1).(*array.StringBuilder).Append(fmt.Sprintf("%d.png", row))
			b.Field(1).(*array.Int64Builder).Append(int64(row % 3))
			row++
		}
		rec := b.NewRecord()
		err := w.Write(rec) // one row group per record
		rec.Release()
		b.Release()
		if err != nil {
			return err
		}
	}
	return w.Close()
}

// A shard source in a pipeline: rank 0 of 2 reads its half of each epoch,
// shuffled, and every sample carries the cursor to checkpoint after it.
func ExampleParquet() {
	dir, err := os.MkdirTemp("", "sources-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := writeExampleShard(filepath.Join(dir, "train-0.parquet"), 3, 4); err != nil {
		log.Fatal(err)
	}

	p := pipeline.New("example")
	samples := sources.Parquet(p, sources.ParquetConfig{
		Glob: filepath.Join(dir, "*.parquet"), Seed: 1,
		Rank: 0, World: 2, ShuffleBuffer: 2, Epochs: 2,
	})
	got := pipelinetest.Collect(p, "collect", samples)
	if err := p.Run(context.Background()); err != nil {
		log.Fatal(err)
	}
	for _, s := range got.Items() {
		fmt.Printf("epoch %d: %s label %d, then resume from %v\n", s.Epoch, s.Bytes, s.Label, s.Cursor())
	}
	// (7 rows over 2 ranks: 3 samples per rank and epoch, one row dropped.)

	// Output:
	// epoch 0: img-3 label 0, then resume from 0:1
	// epoch 0: img-5 label 2, then resume from 0:2
	// epoch 0: img-4 label 1, then resume from 0:3
	// epoch 1: img-0 label 0, then resume from 1:1
	// epoch 1: img-1 label 1, then resume from 1:2
	// epoch 1: img-2 label 2, then resume from 1:3
}

// Reading a shard without a pipeline: metadata first, then one unit.
func ExampleOpenShard() {
	dir, err := os.MkdirTemp("", "sources-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "train-0.parquet")
	if err := writeExampleShard(path, 3, 4); err != nil {
		log.Fatal(err)
	}

	sh, err := sources.OpenShard(path, sources.Columns{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(sh.Format, sh.Rows(), "rows in", sh.NumUnits(), "units; columns", sh.ImageColumn, sh.LabelColumn)
	err = sh.ReadUnit(1, 0, sh.UnitRows(1), func(row int64, image []byte, label int) error {
		fmt.Printf("row %d: %s label %d\n", row, image, label)
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	// Output:
	// parquet 7 rows in 2 units; columns image.bytes label
	// row 3: img-3 label 0
	// row 4: img-4 label 1
	// row 5: img-5 label 2
	// row 6: img-6 label 0
}
