package imagefolder

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// makeTree creates files (path → content) under a new temp folder.
func makeTree(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for p, c := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestSourceList(t *testing.T) {
	for _, tc := range []struct {
		name    string
		files   map[string]string
		ext     []string
		classes string
		want    string // "path:label ..." in order
		ignored string
		err     string
	}{
		{
			name: "classes",
			files: map[string]string{
				"dog/b.jpg": "", "dog/a.PNG": "", "cat/z.jpeg": "", "cat/sub/y.jpg": "",
				"cat/notes.txt": "", "empty/readme.md": "", ".hidden/x.png": "", "cat/.x.png": "", "top.png": "",
			},
			classes: "[cat dog]",
			want:    "cat/sub/y.jpg:0 cat/z.jpeg:0 dog/a.PNG:1 dog/b.jpg:1",
			ignored: "[top.png]",
		},
		{
			name:  "flat",
			files: map[string]string{"b.png": "", "a.JPG": "", "c.gif": "", ".d.png": ""},
			want:  "a.JPG:-1 b.png:-1", classes: "[]", ignored: "[]",
		},
		{
			name:  "extensions",
			files: map[string]string{"x/a.webp": "", "x/b.png": ""},
			ext:   []string{".webp"},
			want:  "x/a.webp:0", classes: "[x]", ignored: "[]",
		},
		{name: "no images", files: map[string]string{"a/readme.txt": ""}, err: "no image files"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := makeTree(t, tc.files)
			l, err := Source{Dir: dir, Extensions: tc.ext}.List()
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), dir) {
					t.Fatalf("err = %v, want %q naming the folder", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for i, f := range l.Files {
				if f.Row != int64(i) {
					t.Errorf("row %d = %d", i, f.Row)
				}
				got = append(got, fmt.Sprintf("%s:%d", f.Path, f.Label))
			}
			if strings.Join(got, " ") != tc.want {
				t.Errorf("files %v, want %s", got, tc.want)
			}
			if fmt.Sprint(l.Classes) != tc.classes || fmt.Sprint(l.Ignored) != tc.ignored {
				t.Errorf("classes %v ignored %v, want %s %s", l.Classes, l.Ignored, tc.classes, tc.ignored)
			}
		})
	}
	// Symbolic links to files count; links to folders are not followed.
	dir := makeTree(t, map[string]string{"real/a.png": "", "other/x.png": ""})
	os.Symlink(filepath.Join(dir, "real", "a.png"), filepath.Join(dir, "other", "link.png"))
	os.Symlink(filepath.Join(dir, "real"), filepath.Join(dir, "other", "sub"))
	l, err := Source{Dir: dir}.List()
	if err != nil || len(l.Files) != 3 || l.Files[0].Path != "other/link.png" || l.Files[1].Path != "other/x.png" {
		t.Errorf("with symlinks: %+v, %v", l.Files, err)
	}
	if _, err := (Source{Dir: "/nonexistent/contrastream"}).List(); err == nil || !strings.Contains(err.Error(), "/nonexistent/contrastream") {
		t.Errorf("missing folder: %v", err)
	}
}

func TestSourceProduce(t *testing.T) {
	dir := makeTree(t, map[string]string{"a/1.png": "one", "b/2.jpg": "two"})
	var got []string
	err := Source{Dir: dir}.Produce(context.Background(), func(f File) error {
		got = append(got, fmt.Sprintf("%v=%s/%d", f.Key(), f.Data, f.Label))
		return nil
	})
	if err != nil || fmt.Sprint(got) != "[a/1.png#0=one/0 b/2.jpg#1=two/1]" {
		t.Fatalf("got %v, %v", got, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := (Source{Dir: dir}).Produce(ctx, func(File) error { return nil }); err != context.Canceled {
		t.Errorf("cancelled: %v", err)
	}
}

func ExampleSource() {
	dir, _ := os.MkdirTemp("", "folder")
	defer os.RemoveAll(dir)
	for _, p := range []string{"dog/1.jpg", "cat/2.png", "cat/1.png"} {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(p)), 0o755)
		os.WriteFile(filepath.Join(dir, p), []byte("..."), 0o644)
	}
	l, _ := Source{Dir: dir}.List()
	fmt.Println(l.Classes)
	for _, f := range l.Files {
		fmt.Println(f.Path, f.Label)
	}
	// Output:
	// [cat dog]
	// cat/1.png 0
	// cat/2.png 0
	// dog/1.jpg 1
}
