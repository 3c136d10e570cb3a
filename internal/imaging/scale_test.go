package imaging_test

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"runtime"
	"testing"

	"github.com/conveyorhq/conveyor/internal/imaging"
)

func TestFitBox(t *testing.T) {
	for _, tc := range []struct{ w, h, mw, mh, ww, wh int }{
		{1000, 500, 256, 256, 256, 128},
		{500, 1000, 256, 256, 128, 256},
		{256, 256, 256, 256, 256, 256},
		{10, 10, 256, 256, 10, 10},
		{1000, 1000, 100, 50, 50, 50},
		{100_000, 1, 4096, 4096, 4096, 1},
		{1, 100_000, 10, 10, 1, 10},
		{333, 1000, 4096, 100, 33, 100},
	} {
		if w, h := imaging.FitBox(tc.w, tc.h, tc.mw, tc.mh); w != tc.ww || h != tc.wh {
			t.Errorf("FitBox(%d, %d, %d, %d) = %d, %d; want %d, %d", tc.w, tc.h, tc.mw, tc.mh, w, h, tc.ww, tc.wh)
		}
	}
}

func TestResample(t *testing.T) {
	ctx := context.Background()

	// A uniform colour stays exactly that colour, edges included.
	u := image.NewRGBA(image.Rect(0, 0, 301, 97))
	for i := 0; i < len(u.Pix); i += 4 {
		copy(u.Pix[i:], []byte{200, 100, 50, 255})
	}
	m, err := imaging.Resample(ctx, u, 37, 13)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(m.Pix); i += 4 {
		if !bytes.Equal(m.Pix[i:i+4], []byte{200, 100, 50, 255}) {
			t.Fatalf("pixel %d is %v", i/4, m.Pix[i:i+4])
		}
	}

	// A fine checkerboard reduced 8 times averages to grey: every source
	// pixel counts, none is skipped.
	c := image.NewGray(image.Rect(0, 0, 256, 256))
	for y := range 256 {
		for x := range 256 {
			if (x+y)%2 == 0 {
				c.SetGray(x, y, color.Gray{255})
			}
		}
	}
	m, err = imaging.Resample(ctx, c, 32, 32)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(m.Pix); i += 4 {
		if v := m.Pix[i]; v < 120 || v > 135 || m.Pix[i+3] != 255 {
			t.Fatalf("pixel %d is %v, want mid grey", i/4, m.Pix[i:i+4])
		}
	}

	// Semi-transparent input keeps premultiplied pixels valid.
	n := image.NewNRGBA(image.Rect(0, 0, 50, 50))
	for i := 0; i < len(n.Pix); i += 4 {
		copy(n.Pix[i:], []byte{uint8(i), 255, uint8(i * 3), uint8(i / 4 % 256)})
	}
	m, err = imaging.Resample(ctx, n, 7, 9)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(m.Pix); i += 4 {
		if a := m.Pix[i+3]; m.Pix[i] > a || m.Pix[i+1] > a || m.Pix[i+2] > a {
			t.Fatalf("pixel %d %v has colour above alpha", i/4, m.Pix[i:i+4])
		}
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := imaging.Resample(cancelled, c, 10, 10); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

// TestResampleMemory checks that scaling takes little beyond its result:
// the source is already in memory, and nothing else may be sized by it.
func TestResampleMemory(t *testing.T) {
	// x/image/draw's CatmullRom would take 1024 × 1500 × 32 bytes (49 MB).
	src := image.NewYCbCr(image.Rect(0, 0, 2000, 1500), image.YCbCrSubsampleRatio420)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	m, err := imaging.Resample(context.Background(), src, 1024, 768)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	result := uint64(len(m.Pix))
	if extra := after.TotalAlloc - before.TotalAlloc - result; extra > 4<<20 {
		t.Fatalf("resample allocated %d MB besides its %d MB result", extra>>20, result>>20)
	}
}
