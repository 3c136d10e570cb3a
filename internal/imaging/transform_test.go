package imaging_test

import (
	"bytes"
	"image"
	"testing"

	"github.com/conveyorhq/conveyor/internal/imaging"
)

func TestOrientInverses(t *testing.T) {
	m := image.NewRGBA(image.Rect(0, 0, 3, 2))
	for i := range m.Pix {
		m.Pix[i] = uint8(i)
	}
	same := func(a, b *image.RGBA) bool { return a.Bounds() == b.Bounds() && bytes.Equal(a.Pix, b.Pix) }
	for _, o := range []int{2, 3, 4, 5, 7} { // their own inverses
		if !same(imaging.Orient(imaging.Orient(m, o), o), m) {
			t.Errorf("orientation %d twice is not the identity", o)
		}
	}
	if !same(imaging.Orient(imaging.Orient(m, 6), 8), m) {
		t.Error("turning clockwise then anticlockwise is not the identity")
	}
	if !same(imaging.Orient(imaging.Orient(m, 6), 6), imaging.Orient(m, 3)) {
		t.Error("two clockwise quarter turns are not a half turn")
	}
	if imaging.Orient(m, 1) != m || imaging.Orient(m, 0) != m || imaging.Orient(m, 9) != m {
		t.Error("orientations 0, 1 and 9 change the image")
	}
}
