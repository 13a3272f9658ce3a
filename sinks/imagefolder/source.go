package imagefolder

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/contrastream/contrastream/pipeline"
)

// File is one encoded image file read from a folder: its bytes as they
// are on disk (PNG or JPEG, not decoded), its path relative to the folder
// (slash-separated) and its class index (-1 in a flat folder). Row is its
// position in the folder's sorted listing.
type File struct {
	Path  string
	Row   int64
	Label int
	Data  []byte
}

// Source is a source of image files laid out as torchvision's ImageFolder
// expects: DIR/<class>/**/*.{jpg,jpeg,png}. Class names are the immediate
// subfolders of Dir, sorted by byte order, and a class's label is its index
// in that order. A folder without subfolders holding images is flat: its own
// image files are the records, with Label -1.
//
// Matching ignores the case of the extension, skips names starting with ".",
// takes symbolic links to files and does not follow symbolic links to
// folders. In class mode, image files
// directly in Dir are ignored (as ImageFolder does); List reports them in
// Ignored. The listing is sorted, so the order (and every Row) is stable.
//
// Produce emits one File per file, reading each file whole (records are
// as large as the files). A file that cannot be read is a fatal error naming
// it. Safe for concurrent use.
type Source struct {
	Dir        string
	Extensions []string // with the dot, lower case; default .jpg .jpeg .png
}

// Listing is the result of Source.List.
type Listing struct {
	Classes []string // class names (label i is Classes[i]); nil for a flat folder
	Files   []File   // Data is nil; sorted by class, then path
	Ignored []string // image files in Dir itself that class mode ignored
}

func (s Source) exts() []string {
	if len(s.Extensions) == 0 {
		return []string{".jpg", ".jpeg", ".png"}
	}
	return s.Extensions
}

func (s Source) isImage(name string) bool {
	ext := strings.ToLower(filepath.Ext(name))
	for _, e := range s.exts() {
		if ext == e {
			return true
		}
	}
	return false
}

// isFile reports whether d is a regular file or a symbolic link to one.
func isFile(path string, d fs.DirEntry) bool {
	if d.Type().IsRegular() {
		return true
	}
	if d.Type()&fs.ModeSymlink == 0 {
		return false
	}
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular()
}

// List walks Dir and returns the classes and the image files, without
// reading them. It returns an error naming the folder when it is missing or
// holds no image file.
func (s Source) List() (Listing, error) {
	var out Listing
	if s.Dir == "" {
		return out, errors.New("imagefolder: no folder given")
	}
	entries, err := os.ReadDir(s.Dir)
	if err != nil {
		return out, fmt.Errorf("imagefolder: %w", err)
	}
	var top []string
	var classes []string
	for _, e := range entries { // ReadDir sorts by file name
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		if e.IsDir() {
			classes = append(classes, name)
		} else if isFile(filepath.Join(s.Dir, name), e) && s.isImage(name) {
			top = append(top, name)
		}
	}
	for _, c := range classes {
		var files []string
		root := filepath.Join(s.Dir, c)
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if path != root && strings.HasPrefix(d.Name(), ".") {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if isFile(path, d) && s.isImage(d.Name()) {
				rel, err := filepath.Rel(s.Dir, path)
				if err != nil {
					return err
				}
				files = append(files, filepath.ToSlash(rel))
			}
			return nil
		})
		if err != nil {
			return Listing{}, fmt.Errorf("imagefolder: %s: %w", s.Dir, err)
		}
		if len(files) == 0 {
			continue // a subfolder without images is not a class
		}
		sort.Strings(files)
		label := len(out.Classes)
		out.Classes = append(out.Classes, c)
		for _, f := range files {
			out.Files = append(out.Files, File{Path: f, Row: int64(len(out.Files)), Label: label})
		}
	}
	if len(out.Classes) > 0 {
		out.Ignored = top
		return out, nil
	}
	for _, f := range top {
		out.Files = append(out.Files, File{Path: f, Row: int64(len(out.Files)), Label: -1})
	}
	if len(out.Files) == 0 {
		return out, fmt.Errorf("imagefolder: %s: no image files (%s) in it or in its subfolders", s.Dir, strings.Join(s.exts(), " "))
	}
	return out, nil
}

// Produce lists Dir and emits every image file with its bytes, in listing
// order; see Source.
func (s Source) Produce(ctx context.Context, emit func(File) error) error {
	l, err := s.List()
	if err != nil {
		return err
	}
	return s.ProduceListing(ctx, l, emit)
}

// ProduceListing emits the files of l (as returned by List) with their bytes.
// Importers call List first to learn the class names, then this.
func (s Source) ProduceListing(ctx context.Context, l Listing, emit func(File) error) error {
	for _, f := range l.Files {
		if err := ctx.Err(); err != nil {
			return err
		}
		data, err := os.ReadFile(filepath.Join(s.Dir, filepath.FromSlash(f.Path)))
		if err != nil {
			return fmt.Errorf("imagefolder: %w", err)
		}
		f.Data = data
		if err := emit(f); err != nil {
			return err
		}
	}
	return nil
}

// Key returns (Path, Row), so record errors and dead letters name the file.
func (f File) Key() pipeline.Key { return pipeline.Key{Shard: f.Path, Row: f.Row} }
