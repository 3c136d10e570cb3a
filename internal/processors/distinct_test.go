package processors

import (
	"math"
	"strconv"
	"testing"

	"github.com/cespare/xxhash/v2"
)

func TestDistinctCounter(t *testing.T) {
	var d distinctCounter
	for i := range distinctExact {
		d.add(xxhash.Sum64String(strconv.Itoa(i)))
		d.add(xxhash.Sum64String(strconv.Itoa(i))) // twice: counted once
	}
	if n, exact := d.estimate(); n != distinctExact || !exact {
		t.Fatalf("estimate %d %v, want exactly %d", n, exact, distinctExact)
	}
	for _, n := range []int{distinctExact + 1, 3000, 10_000, 30_000, 100_000, 1_000_000} {
		var d distinctCounter
		for i := range n {
			d.add(xxhash.Sum64String("value-" + strconv.Itoa(i)))
		}
		got, exact := d.estimate()
		rel := math.Abs(float64(got)-float64(n)) / float64(n)
		t.Logf("%d distinct: estimate %d (%.2f%%)", n, got, 100*rel)
		tol := 0.05 // about three standard errors
		if n == 100_000 {
			tol = 0.03
		}
		if exact || rel > tol {
			t.Errorf("%d distinct: estimate %d (off by %.1f%%), exact %v", n, got, 100*rel, exact)
		}
	}
}
