package files_test

import (
	"strings"
	"testing"

	"github.com/conveyorhq/conveyor/internal/files"
)

func TestCleanName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"photo.png", "photo.png"},
		{"../../etc/passwd", "passwd"},
		{`C:\Users\me\report.csv`, "report.csv"},
		{"a\x00b\nc.txt", "abc.txt"},
		{"  spaced  ", "spaced"},
		{"", "upload"},
		{"..", "upload"},
		{"/", "upload"},
		{"bad\xffutf8", "badutf8"},
		{strings.Repeat("é", 200), strings.Repeat("é", 127)},
	}
	for _, tt := range tests {
		if got := files.CleanName(tt.in); got != tt.want {
			t.Errorf("CleanName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
