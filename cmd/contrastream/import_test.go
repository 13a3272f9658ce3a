package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"image"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runCLI runs the CLI in-process and returns its exit code and stdout.
func runCLI(t *testing.T, args ...string) (int, string) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdout
	os.Stdout = w
	done := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(r)
		done <- b
	}()
	code := mainErr(args)
	os.Stdout = old
	w.Close()
	return code, string(<-done)
}

// dataSummary is the --json line of synth and import.
type dataSummary struct {
	Command  string   `json:"command"`
	Out      string   `json:"out"`
	Rows     int64    `json:"rows"`
	Shards   int      `json:"shards"`
	Files    []string `json:"files"`
	Bytes    int64    `json:"bytes"`
	Rejected int64    `json:"rejected"`
	Classes  []string `json:"classes"`
	Seconds  float64  `json:"seconds"`
	RowsPerS float64  `json:"rows_per_second"`
	Error    string   `json:"error"`
}

// oneJSONLine checks that stdout is exactly one JSON object line.
func oneJSONLine(t *testing.T, stdout string) dataSummary {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(stdout))
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) != 1 {
		t.Fatalf("stdout has %d lines, want 1 JSON line:\n%s", len(lines), stdout)
	}
	var s dataSummary
	dec := json.NewDecoder(strings.NewReader(lines[0]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		t.Fatalf("stdout %q: %v", lines[0], err)
	}
	return s
}

func TestSynthCommand(t *testing.T) {
	out := t.TempDir()
	code, stdout := runCLI(t, "synth", "--out", out, "--n", "50", "--size", "16", "--shards", "2", "--seed", "4", "--json")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	s := oneJSONLine(t, stdout)
	if s.Command != "synth" || s.Rows != 50 || s.Shards != 2 || len(s.Files) != 2 || len(s.Classes) != 10 || s.Error != "" {
		t.Fatalf("summary %+v", s)
	}
	for _, f := range s.Files {
		if _, err := os.Stat(f); err != nil {
			t.Error(err)
		}
	}
	// Same flags, same bytes; a used folder needs --overwrite.
	if code, _ := runCLI(t, "synth", "--out", out, "--n", "50", "--json"); code != 1 {
		t.Errorf("synth into a used folder: exit %d, want 1", code)
	}
	first, _ := os.ReadFile(s.Files[0])
	code, _ = runCLI(t, "synth", "--out", out, "--n", "50", "--size", "16", "--shards", "2", "--seed", "4", "--overwrite")
	again, _ := os.ReadFile(s.Files[0])
	if code != 0 || !bytes.Equal(first, again) {
		t.Errorf("rerun: exit %d, identical %v", code, bytes.Equal(first, again))
	}
}

func TestDataCommandErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"synth", "--help"}, 0},
		{[]string{"import", "--help"}, 0},
		{[]string{"import", "idx", "--help"}, 0},
		{[]string{"import", "images", "-h"}, 0},
		{[]string{"synth"}, 1},                              // no --out
		{[]string{"synth", "--out", "x", "--size", "4"}, 1}, // too small
		{[]string{"synth", "--out", "x", "--bogus"}, 1},     // unknown flag
		{[]string{"import"}, 1},                             // no kind
		{[]string{"import", "csv"}, 1},                      // unknown kind
		{[]string{"import", "idx", "--out", "x"}, 1},        // no --images
		{[]string{"import", "images", "--out", "x", "--dir", "/nonexistent"}, 1},
	} {
		code, stdout := runCLI(t, tc.args...)
		if code != tc.code || stdout != "" {
			t.Errorf("%v: exit %d stdout %q, want exit %d and no stdout", tc.args, code, stdout, tc.code)
		}
	}
}

func writeTestIDX(t *testing.T, path string, dims []uint32, data []byte) {
	var b bytes.Buffer
	b.Write([]byte{0, 0, 8, byte(len(dims))})
	for _, d := range dims {
		binary.Write(&b, binary.BigEndian, d)
	}
	b.Write(data)
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(b.Bytes())
	zw.Close()
	if err := os.WriteFile(path, z.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestImportIDXCommand(t *testing.T) {
	dir := t.TempDir()
	writeTestIDX(t, filepath.Join(dir, "i.gz"), []uint32{20, 4, 4}, bytes.Repeat([]byte{9}, 20*16))
	labels := make([]byte, 20)
	for i := range labels {
		labels[i] = byte(i % 3)
	}
	writeTestIDX(t, filepath.Join(dir, "l.gz"), []uint32{20}, labels)
	out := filepath.Join(dir, "out")
	code, stdout := runCLI(t, "import", "idx", "--images", filepath.Join(dir, "i.gz"), "--labels", filepath.Join(dir, "l.gz"),
		"--out", out, "--class-names", "a,b,c", "--json")
	s := oneJSONLine(t, stdout)
	if code != 0 || s.Rows != 20 || s.Shards != 1 || s.Command != "import idx" {
		t.Fatalf("exit %d summary %+v", code, s)
	}
	// Two names for three classes: label 2 has no name, those rows are rejected.
	code, stdout = runCLI(t, "import", "idx", "--images", filepath.Join(dir, "i.gz"), "--labels", filepath.Join(dir, "l.gz"),
		"--out", out, "--class-names", "a,b", "--overwrite", "--json")
	s = oneJSONLine(t, stdout)
	if code != 1 || s.Rejected != 6 || s.Rows != 14 || !strings.Contains(s.Error, "rejected") {
		t.Fatalf("exit %d summary %+v", code, s)
	}
}

func TestImportImagesCommand(t *testing.T) {
	src := t.TempDir()
	var b bytes.Buffer
	png.Encode(&b, image.NewGray(image.Rect(0, 0, 3, 3)))
	for _, p := range []string{"a/1.png", "a/2.png", "b/3.png"} {
		os.MkdirAll(filepath.Join(src, filepath.Dir(p)), 0o755)
		os.WriteFile(filepath.Join(src, p), b.Bytes(), 0o644)
	}
	os.WriteFile(filepath.Join(src, "b", "broken.jpg"), []byte{0xff, 0xd8, 0xff}, 0o644)
	out := t.TempDir()
	code, stdout := runCLI(t, "import", "images", "--dir", src, "--out", out, "--json")
	s := oneJSONLine(t, stdout)
	if code != 1 || s.Rows != 3 || s.Rejected != 1 || strings.Join(s.Classes, ",") != "a,b" {
		t.Fatalf("exit %d summary %+v", code, s)
	}
	bad, err := os.ReadFile(filepath.Join(out, "bad-records.jsonl"))
	if err != nil || !strings.Contains(string(bad), `"shard":"b/broken.jpg"`) {
		t.Fatalf("dead letters %s, %v", bad, err)
	}
	code, stdout = runCLI(t, "import", "images", "--dir", src, "--out", out, "--overwrite", "--max-bad", "0.5")
	if code != 0 || !strings.Contains(stdout, "3 rows in 1 shard(s)") {
		t.Fatalf("exit %d stdout %q", code, stdout)
	}
}
