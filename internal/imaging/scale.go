// Package imaging scales and orients decoded images, and reads what a
// JPEG's header says about decoding it (EXIF orientation, progressive
// coding, chroma subsampling). Scaling keeps its scratch memory to a few
// source rows, whatever the image size.
package imaging

import (
	"context"
	"image"
	"image/draw"
	"math"
)

// FitBox returns w×h scaled to fit within maxW×maxH, keeping the aspect
// ratio; it never enlarges, and no side is less than one pixel.
func FitBox(w, h, maxW, maxH int) (int, int) {
	if w <= maxW && h <= maxH {
		return w, h
	}
	// Compare w/maxW with h/maxH without rounding: the larger ratio binds.
	if int64(w)*int64(maxH) >= int64(h)*int64(maxW) {
		return maxW, max(1, min(maxH, int(math.Round(float64(h)*float64(maxW)/float64(w)))))
	}
	return max(1, min(maxW, int(math.Round(float64(w)*float64(maxH)/float64(h))))), maxH
}

// Resample returns src scaled to w×h (not larger than src), filtered with
// Catmull-Rom widened by the reduction, so that a large reduction averages
// every source pixel rather than sampling some. It works in premultiplied
// RGBA, one axis at a time, and keeps only the few source rows the current
// output row needs: its scratch memory is about four source rows, where
// golang.org/x/image/draw's kernels take output width × source height × 32
// bytes (655 MB for 8000×5000 into 4096 wide). It returns ctx's error once
// ctx is done.
func Resample(ctx context.Context, src image.Image, w, h int) (*image.RGBA, error) {
	b := src.Bounds()
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	if w == b.Dx() && h == b.Dy() {
		draw.Draw(dst, dst.Bounds(), src, b.Min, draw.Src)
		return dst, nil
	}
	xs, ys := filterWeights(w, b.Dx()), filterWeights(h, b.Dy())
	ringN := 0
	for _, c := range ys {
		ringN = max(ringN, len(c.w))
	}
	row := image.NewRGBA(image.Rect(0, 0, b.Dx(), 1))
	ring := make([]float32, ringN*w*4) // horizontally scaled source rows
	next := 0                          // the next source row to scale
	for dy, cy := range ys {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		for ; next < cy.lo+len(cy.w); next++ {
			draw.Draw(row, row.Bounds(), src, image.Pt(b.Min.X, b.Min.Y+next), draw.Src)
			out := ring[(next%ringN)*w*4:][:w*4]
			for dx, cx := range xs {
				var r, g, bl, a float32
				pix := row.Pix[cx.lo*4:]
				for k, wt := range cx.w {
					p := pix[k*4 : k*4+4 : k*4+4]
					r += float32(p[0]) * wt
					g += float32(p[1]) * wt
					bl += float32(p[2]) * wt
					a += float32(p[3]) * wt
				}
				o := out[dx*4 : dx*4+4 : dx*4+4]
				o[0], o[1], o[2], o[3] = r, g, bl, a
			}
		}
		pix := dst.Pix[dy*dst.Stride:]
		for dx := range w {
			var r, g, bl, a float32
			for k, wt := range cy.w {
				i := ((cy.lo+k)%ringN*w + dx) * 4
				p := ring[i : i+4 : i+4]
				r += p[0] * wt
				g += p[1] * wt
				bl += p[2] * wt
				a += p[3] * wt
			}
			// The filter's negative lobes can overshoot: keep the
			// colour within the (premultiplied) alpha.
			alpha := clamp8(a, 255)
			o := pix[dx*4 : dx*4+4 : dx*4+4]
			o[0], o[1], o[2], o[3] = clamp8(r, float32(alpha)), clamp8(g, float32(alpha)), clamp8(bl, float32(alpha)), alpha
		}
	}
	return dst, nil
}

func clamp8(v, hi float32) uint8 {
	v += 0.5
	if v <= 0 {
		return 0
	}
	if v >= hi {
		return uint8(hi)
	}
	return uint8(v)
}

// contrib is the filter's weights for one output pixel over the source
// pixels lo, lo+1, ...
type contrib struct {
	lo int
	w  []float32
}

// filterWeights returns, for each of dn output pixels along an axis, the
// normalised Catmull-Rom weights of the sn source pixels they cover.
func filterWeights(dn, sn int) []contrib {
	scale := float64(sn) / float64(dn)
	widen := max(scale, 1)
	radius := 2 * widen
	out := make([]contrib, dn)
	all := make([]float32, 0, dn*(int(2*radius)+2))
	for i := range out {
		center := (float64(i)+0.5)*scale - 0.5
		lo := max(0, int(math.Ceil(center-radius)))
		hi := min(sn-1, int(math.Floor(center+radius)))
		start := len(all)
		var sum float64
		for j := lo; j <= hi; j++ {
			wt := catmullRom(math.Abs(float64(j)-center) / widen)
			all = append(all, float32(wt))
			sum += wt
		}
		ws := all[start:len(all):len(all)]
		if sum <= 0 { // cannot happen with this filter; take the nearest pixel
			lo, ws = min(sn-1, max(0, int(math.Round(center)))), []float32{1}
		} else {
			for k := range ws {
				ws[k] = float32(float64(ws[k]) / sum)
			}
		}
		out[i] = contrib{lo: lo, w: ws}
	}
	return out
}

// catmullRom is the Catmull-Rom cubic at distance x ≥ 0.
func catmullRom(x float64) float64 {
	switch {
	case x < 1:
		return (1.5*x-2.5)*x*x + 1
	case x < 2:
		return ((-0.5*x+2.5)*x-4)*x + 2
	}
	return 0
}
