package measure

import (
	"strings"
	"testing"
)

func TestReplaceSection(t *testing.T) {
	begin, end := Markers("data-path")
	doc := "# B\nprose\n" + begin + "\nold\nfigures\n" + end + "\nmore prose\n"
	got, err := ReplaceSection(doc, "data-path", "\nnew table\n\n")
	if err != nil {
		t.Fatal(err)
	}
	want := "# B\nprose\n" + begin + "\nnew table\n" + end + "\nmore prose\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if _, err := ReplaceSection("no markers", "data-path", "x"); err == nil || !strings.Contains(err.Error(), begin) {
		t.Errorf("missing markers: %v, want an error quoting them", err)
	}
	if _, err := ReplaceSection(end+begin, "data-path", "x"); err == nil {
		t.Error("markers out of order: no error")
	}
}
