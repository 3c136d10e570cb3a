package processors

import (
	"math"
	"math/bits"
	"strconv"
	"testing"

	"github.com/axiomhq/hyperloglog"
	"github.com/cespare/xxhash/v2"
)

// This file compares the HyperLogLog csv_profile used to hand-roll with
// github.com/axiomhq/hyperloglog, on what csv_profile needs: accuracy past
// the exact count (1,025 values up), memory per column, and speed. The
// hand-rolled sketch is kept here, as the baseline, so the comparison can be
// run again: go test -run Accuracy -bench Distinct ./internal/processors.

// sketch is what the comparison needs of a HyperLogLog.
type sketch interface {
	add(h uint64)
	count() uint64
}

// The hand-rolled sketch's registers: 2^hllP of them, each holding the
// rank of the hllQ bits below the index.
const (
	hllM = 1 << hllP
	hllQ = 64 - hllP
)

// ertlSketch is the hand-rolled sketch: 2^hllP one-byte registers and
// Ertl's improved estimator, which needs no bias tables.
type ertlSketch struct{ reg []uint8 }

func newErtlSketch() *ertlSketch { return &ertlSketch{reg: make([]uint8, hllM)} }

func (s *ertlSketch) add(h uint64) {
	idx := h >> hllQ
	rank := uint8(bits.LeadingZeros64(h<<hllP|1<<(hllP-1))) + 1
	if rank > s.reg[idx] {
		s.reg[idx] = rank
	}
}

func (s *ertlSketch) count() uint64 {
	var hist [hllQ + 2]int
	for _, r := range s.reg {
		hist[r]++
	}
	const m = float64(hllM)
	z := m * ertlTau(1-float64(hist[hllQ+1])/m)
	for k := hllQ; k >= 1; k-- {
		z = 0.5 * (z + float64(hist[k]))
	}
	z += m * ertlSigma(float64(hist[0])/m)
	return uint64(math.Round(m * m / (2 * math.Ln2) / z))
}

func ertlSigma(x float64) float64 {
	if x == 1 {
		return math.Inf(1)
	}
	y, z := 1.0, x
	for {
		x *= x
		prev := z
		z += x * y
		y += y
		if z == prev {
			return z
		}
	}
}

func ertlTau(x float64) float64 {
	if x == 0 || x == 1 {
		return 0
	}
	y, z := 1.0, 1-x
	for {
		x = math.Sqrt(x)
		prev := z
		y *= 0.5
		z -= (1 - x) * (1 - x) * y
		if z == prev {
			return z / 3
		}
	}
}

// axiomSketch is the library's sketch.
type axiomSketch struct{ s *hyperloglog.Sketch }

func newAxiomSketch(p uint8, sparse bool) *axiomSketch {
	s, err := hyperloglog.NewSketch(p, sparse)
	if err != nil {
		panic(err)
	}
	return &axiomSketch{s}
}

func (s *axiomSketch) add(h uint64)  { s.s.InsertHash(h) }
func (s *axiomSketch) count() uint64 { return s.s.Estimate() }

var sketches = []struct {
	name string
	make func() sketch
}{
	{"hand-rolled p12", func() sketch { return newErtlSketch() }},
	{"axiom p12 dense", func() sketch { return newAxiomSketch(hllP, false) }},
	{"axiom p14 sparse", func() sketch { return newAxiomSketch(14, true) }},
}

// TestDistinctAccuracy estimates known cardinalities, 25 times each with
// different values, and reports each sketch's mean and worst relative
// error. It fails when a sketch at 2^12 registers is off by more than its
// standard error allows (1.04/√4096 ≈ 1.6%: mean within 2.5%, worst within
// 6.5%, four standard errors).
func TestDistinctAccuracy(t *testing.T) {
	if testing.Short() {
		t.Skip("inserts 30 million values")
	}
	const trials = 25
	for _, n := range []int{distinctExact + 1, 2000, 5000, 20_000, 100_000, 1_000_000} {
		for _, sk := range sketches {
			var sum, worst float64
			for trial := range trials {
				s := sk.make()
				prefix := "t" + strconv.Itoa(trial) + "-"
				for i := range n {
					s.add(xxhash.Sum64String(prefix + strconv.Itoa(i)))
				}
				rel := math.Abs(float64(s.count())-float64(n)) / float64(n)
				sum += rel
				worst = max(worst, rel)
			}
			mean := sum / trials
			t.Logf("%9d distinct, %-16s mean error %5.2f%%, worst %5.2f%%", n, sk.name, 100*mean, 100*worst)
			if mean > 0.025 || worst > 0.065 {
				t.Errorf("%s at %d distinct: mean error %.2f%%, worst %.2f%%", sk.name, n, 100*mean, 100*worst)
			}
		}
	}
}

// BenchmarkDistinct inserts n distinct hashes into one sketch and
// estimates once, as csv_profile does for a column; B/op is the sketch's
// memory.
func BenchmarkDistinct(b *testing.B) {
	for _, n := range []int{5000, 1_000_000} {
		hashes := make([]uint64, n)
		for i := range hashes {
			hashes[i] = xxhash.Sum64String("value-" + strconv.Itoa(i))
		}
		for _, sk := range sketches {
			b.Run(sk.name+"/"+strconv.Itoa(n), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					s := sk.make()
					for _, h := range hashes {
						s.add(h)
					}
					_ = s.count()
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/value")
			})
		}
	}
}
