package processors

import (
	"math"
	"math/bits"
)

// distinctCounter counts distinct 64-bit hashes: exactly up to
// distinctExact of them, then with HyperLogLog (2^hllP one-byte
// registers, Ertl's improved estimator, which needs no bias tables and is
// sound from small to large counts).
type distinctCounter struct {
	exact map[uint64]struct{}
	reg   []uint8
}

const (
	distinctExact = 1024
	hllP          = 12
	hllM          = 1 << hllP
	hllQ          = 64 - hllP
)

func (d *distinctCounter) add(h uint64) {
	if d.reg != nil {
		d.addReg(h)
		return
	}
	if d.exact == nil {
		d.exact = map[uint64]struct{}{}
	}
	d.exact[h] = struct{}{}
	if len(d.exact) <= distinctExact {
		return
	}
	d.reg = make([]uint8, hllM)
	for h := range d.exact {
		d.addReg(h)
	}
	d.exact = nil
}

func (d *distinctCounter) addReg(h uint64) {
	idx := h >> hllQ
	// The guard bit caps the rank at hllQ+1.
	rank := uint8(bits.LeadingZeros64(h<<hllP|1<<(hllP-1))) + 1
	if rank > d.reg[idx] {
		d.reg[idx] = rank
	}
}

// estimate returns the count, and whether it is exact.
func (d *distinctCounter) estimate() (int64, bool) {
	if d.reg == nil {
		return int64(len(d.exact)), true
	}
	var hist [hllQ + 2]int
	for _, r := range d.reg {
		hist[r]++
	}
	const m = float64(hllM)
	z := m * hllTau(1-float64(hist[hllQ+1])/m)
	for k := hllQ; k >= 1; k-- {
		z = 0.5 * (z + float64(hist[k]))
	}
	z += m * hllSigma(float64(hist[0])/m)
	// More than distinctExact were counted exactly before the switch.
	return max(distinctExact+1, int64(math.Round(m*m/(2*math.Ln2)/z))), false
}

func hllSigma(x float64) float64 {
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

func hllTau(x float64) float64 {
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
