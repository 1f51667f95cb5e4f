package measure

import (
	"fmt"
	"os"
	"strings"
)

// Markers delimit the part of BENCHMARKS.md a benchmark command rewrites
// (--write-benchmarks), so that the prose around it stays the author's.
func Markers(name string) (begin, end string) {
	return "<!-- begin " + name + " (generated) -->", "<!-- end " + name + " -->"
}

// ReplaceSection returns doc with the text between name's markers replaced
// by body; an error when the markers are missing or out of order (the
// reader adds them where the figures belong).
func ReplaceSection(doc, name, body string) (string, error) {
	begin, end := Markers(name)
	i := strings.Index(doc, begin)
	j := strings.Index(doc, end)
	if i < 0 || j < i {
		return "", fmt.Errorf("no section %q: add the lines %q and %q where the figures belong", name, begin, end)
	}
	return doc[:i+len(begin)] + "\n" + strings.TrimSpace(body) + "\n" + doc[j:], nil
}

// UpdateFile applies ReplaceSection to the file at path.
func UpdateFile(path, name, body string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	out, err := ReplaceSection(string(data), name, body)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return os.WriteFile(path, []byte(out), 0o644)
}
