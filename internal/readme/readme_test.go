package readme

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// marker precedes every Go block of README.md:
//
//	<!-- example: DIR NAME... -->
//	```go
//	...
//	```
//
// DIR is a package folder from the module root and each NAME one
// declaration of its _test.go files: an Example function gives its body
// (one tab less, without its // Output: comment), any other name (a type,
// a function, or TYPE.METHOD) gives the whole declaration with its doc
// comment. The block must be the NAMEs' code, in order, one blank line
// apart.
var marker = regexp.MustCompile(`(?m)^<!-- example: (\S+)((?: \S+)+) -->\n` + "```go\n")

func TestREADMEShowsTheExamples(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := bytes.Count(readme, []byte("```go\n"))
	found := marker.FindAllSubmatchIndex(readme, -1)
	if len(found) != blocks {
		t.Errorf("README.md has %d Go blocks and %d example markers: every Go block needs one (see marker)", blocks, len(found))
	}
	if len(found) == 0 {
		t.Fatal("README.md shows no example")
	}
	for _, m := range found {
		dir, names := string(readme[m[2]:m[3]]), strings.Fields(string(readme[m[4]:m[5]]))
		rest := readme[m[1]:]
		end := bytes.Index(rest, []byte("```\n"))
		if end < 0 {
			t.Fatalf("README.md: the block of %s %v does not end", dir, names)
		}
		got := string(rest[:end])
		want, err := code(filepath.Join("../..", dir), names)
		if err != nil {
			t.Error(err)
			continue
		}
		if got != want {
			t.Errorf("README.md's block for %s %v is not the code of the examples:\n--- README.md\n%s--- %s\n%s", dir, names, got, dir, want)
		}
	}
}

// code returns the source the names mean in the _test.go files of dir.
func code(dir string, names []string) (string, error) {
	fset := token.NewFileSet()
	files, err := filepath.Glob(filepath.Join(dir, "*_test.go"))
	if err != nil {
		return "", err
	}
	src := map[*token.File][]byte{}
	var parsed []*ast.File
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		af, err := parser.ParseFile(fset, f, b, parser.ParseComments)
		if err != nil {
			return "", err
		}
		src[fset.File(af.Pos())] = b
		parsed = append(parsed, af)
	}
	text := func(from, to token.Pos) string {
		tf := fset.File(from)
		return string(src[tf][tf.Offset(from):tf.Offset(to)])
	}
	var parts []string
	for _, name := range names {
		part, ok := "", false
		for _, af := range parsed {
			for _, d := range af.Decls {
				switch d := d.(type) {
				case *ast.FuncDecl:
					if funcName(d) != name {
						continue
					}
					if d.Recv == nil && strings.HasPrefix(name, "Example") {
						part, ok = exampleBody(text(d.Body.Lbrace+1, d.Body.Rbrace)), true
					} else {
						part, ok = text(start(d.Doc, d.Pos()), d.End())+"\n", true
					}
				case *ast.GenDecl:
					for _, s := range d.Specs {
						if ts, isType := s.(*ast.TypeSpec); isType && ts.Name.Name == name {
							part, ok = text(start(d.Doc, d.Pos()), d.End())+"\n", true
						}
					}
				}
			}
		}
		if !ok {
			return "", &missingError{dir, name}
		}
		parts = append(parts, part)
	}
	return strings.Join(parts, "\n"), nil
}

type missingError struct{ dir, name string }

func (e *missingError) Error() string {
	return "README.md names " + e.name + ", which " + e.dir + "'s _test.go files do not declare"
}

func funcName(d *ast.FuncDecl) string {
	if d.Recv == nil || len(d.Recv.List) == 0 {
		return d.Name.Name
	}
	t := d.Recv.List[0].Type
	if s, ok := t.(*ast.StarExpr); ok {
		t = s.X
	}
	if id, ok := t.(*ast.Ident); ok {
		return id.Name + "." + d.Name.Name
	}
	return d.Name.Name
}

func start(doc *ast.CommentGroup, pos token.Pos) token.Pos {
	if doc != nil {
		return doc.Pos()
	}
	return pos
}

// exampleBody returns an Example's body one tab less, up to its Output
// comment.
func exampleBody(body string) string {
	var out []string
	for _, line := range strings.Split(strings.TrimPrefix(body, "\n"), "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "// Output:") || strings.HasPrefix(trimmed, "// Unordered output:") {
			break
		}
		out = append(out, strings.TrimPrefix(line, "\t"))
	}
	return strings.TrimRight(strings.Join(out, "\n"), "\n") + "\n"
}
