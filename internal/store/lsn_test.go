package store_test

import (
	"testing"

	"github.com/conveyorhq/conveyor/internal/store"
)

func TestParseLSN(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"0/0", 0, true},
		{"16/B374D848", 0x16_B374D848, true},
		{"FFFFFFFF/FFFFFFFF", ^uint64(0), true},
		{"nonsense", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		got, err := store.ParseLSN(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseLSN(%q) = %x, %v", tt.in, got, err)
		}
	}
}
