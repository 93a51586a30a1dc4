package stream

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// kafkaClient is the one import only stream may have.
const kafkaClient = "github.com/segmentio/kafka-go"

// Only stream knows the Kafka client: every other package speaks Record,
// so a change of client is a change of stream/ alone. Tests outside may
// still use kafka-go as an independent client against a broker; none does
// today.
func TestOnlyStreamImportsKafkaGo(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root %s: %v", root, err)
	}
	var offenders []string
	fset := token.NewFileSet()
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			switch {
			case rel == "stream", rel == "third_party", d.Name() == "testdata", d.Name() == "vendor",
				rel != "." && strings.HasPrefix(d.Name(), "."):
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if p == kafkaClient || strings.HasPrefix(p, kafkaClient+"/") {
				offenders = append(offenders, rel+":"+strconv.Itoa(fset.Position(imp.Pos()).Line))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range offenders {
		t.Errorf("%s imports %s: only stream/ may; speak stream.Record and stream.Header, or add what is missing to stream", o, kafkaClient)
	}
}
