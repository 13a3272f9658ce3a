package sinks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"strings"
	"testing"

	"github.com/contrastream/contrastream/internal/shardtest"
	"github.com/contrastream/contrastream/sources"
)

func TestWriteSynthWorkersInvariant(t *testing.T) {
	s := sources.Synth{N: 150, Size: 16, Seed: 5}
	var ref [][]byte
	for _, workers := range []int{1, 2, 5} {
		dir := t.TempDir()
		sum, err := WriteSynth(context.Background(), s, ShardsConfig{Dir: dir, RowGroupRows: 40}, ImportOptions{Workers: workers, Shards: 2})
		if err != nil {
			t.Fatal(err)
		}
		if sum.Rows != 150 || sum.Shards != 2 || fmt.Sprint(sum.Classes) != fmt.Sprint(sources.SynthClasses[:]) {
			t.Fatalf("summary %+v", sum)
		}
		imgs, labels := shardtest.Rows(t, sum.Files)
		buf := make([]byte, 16*16*3)
		for i, b := range imgs {
			m, err := png.Decode(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			nrgba, ok := m.(*image.RGBA)
			if !ok {
				t.Fatalf("decoded as %T, want an opaque RGB PNG", m)
			}
			want := s.Label(int64(i))
			s.Draw(buf, int64(i))
			for p := 0; p < 16*16; p++ {
				if !bytes.Equal(nrgba.Pix[4*p:4*p+3], buf[3*p:3*p+3]) {
					t.Fatalf("workers=%d row %d pixel %d differs from Synth.Draw", workers, i, p)
				}
			}
			if labels[i] != want {
				t.Fatalf("row %d label %d want %d", i, labels[i], want)
			}
		}
		if ref == nil {
			ref = imgs
		} else {
			for i := range imgs {
				if !bytes.Equal(imgs[i], ref[i]) {
					t.Fatalf("workers=%d: row %d bytes differ from workers=1", workers, i)
				}
			}
		}
		info := readShard(t, sum.Files[0])
		if !strings.Contains(info.Meta["huggingface"], `"names":["circle","square",`) {
			t.Errorf("metadata %s", info.Meta["huggingface"])
		}
	}
}

func TestImportCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	dir := t.TempDir()
	sum, err := WriteSynth(ctx, sources.Synth{N: 5000, Size: 16}, ShardsConfig{Dir: dir, MaxRows: 1000},
		ImportOptions{Progress: func(done, _ int64) {
			if done >= 1500 {
				cancel()
			}
		}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	// Only full shards were committed, and no temporary file is left.
	names := listDir(t, dir)
	for _, n := range names {
		if strings.HasPrefix(n, ".") {
			t.Errorf("left %s behind", n)
		}
	}
	if sum.Rows%1000 != 0 || sum.Rows == 0 || len(names) != sum.Shards {
		t.Errorf("after cancel: %+v, files %v", sum, names)
	}
}

func BenchmarkWriteSynth(b *testing.B) {
	b.ReportAllocs()
	const n = 2000
	for i := 0; i < b.N; i++ {
		dir := b.TempDir()
		sum, err := WriteSynth(context.Background(), sources.Synth{N: n, Seed: 1}, ShardsConfig{Dir: dir}, ImportOptions{})
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(sum.Bytes) // shard bytes per run
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "images/s")
}
