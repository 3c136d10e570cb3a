// Package filelength holds the house rule that no hand-written Go file is
// longer than MaxLines lines. Generated files (those that say
// "// Code generated ... DO NOT EDIT." before their package clause, the Go
// convention that ast.IsGenerated reads) are exempt. Its test applies the
// rule to the whole repository, so `make test` enforces it.
package filelength

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
)

// MaxLines is the most lines a hand-written Go file may have.
const MaxLines = 500

// Violation is a hand-written Go file longer than the limit.
type Violation struct {
	Path  string // relative to the root checked
	Lines int
}

func (v Violation) String() string {
	return fmt.Sprintf("%s: %d lines (at most %d)", v.Path, v.Lines, MaxLines)
}

// skipped are folders that hold no hand-written Go of this repository:
// version control, installed packages, built tools and local run state.
var skipped = map[string]bool{".git": true, "node_modules": true, "bin": true, ".run": true, "vendor": true}

// Check walks root and returns every hand-written Go file with more than
// max lines, in walk (lexical) order. It returns an error when root cannot
// be walked or a Go file's package clause cannot be parsed.
func Check(root string, max int) ([]Violation, error) {
	var out []Violation
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && skipped[d.Name()] {
				return filepath.SkipDir
			}
			return nil
		}
		if filepath.Ext(path) != ".go" || !d.Type().IsRegular() {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		n := lines(src)
		if n <= max {
			return nil
		}
		gen, err := generated(path, src)
		if err != nil {
			return err
		}
		if !gen {
			rel, err := filepath.Rel(root, path)
			if err != nil {
				return err
			}
			out = append(out, Violation{Path: filepath.ToSlash(rel), Lines: n})
		}
		return nil
	})
	return out, err
}

// lines counts src's lines; a last line without a newline counts too.
func lines(src []byte) int {
	n := bytes.Count(src, []byte("\n"))
	if len(src) > 0 && src[len(src)-1] != '\n' {
		n++
	}
	return n
}

// generated reports whether the Go file src says it is generated.
func generated(path string, src []byte) (bool, error) {
	f, err := parser.ParseFile(token.NewFileSet(), path, src, parser.PackageClauseOnly|parser.ParseComments)
	if err != nil {
		return false, err
	}
	return ast.IsGenerated(f), nil
}
