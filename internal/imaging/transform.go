package imaging

import "image"

// FlattenOnWhite composites m (premultiplied) over white and makes it
// opaque.
func FlattenOnWhite(m *image.RGBA) {
	for i := 0; i+3 < len(m.Pix); i += 4 {
		t := 255 - m.Pix[i+3]
		m.Pix[i] += t
		m.Pix[i+1] += t
		m.Pix[i+2] += t
		m.Pix[i+3] = 255
	}
}

// Orient returns m as shown under EXIF orientation o (1 to 8): m
// itself for 1, otherwise a flipped or rotated copy.
func Orient(m *image.RGBA, o int) *image.RGBA {
	if o < 2 || o > 8 {
		return m
	}
	w, h := m.Bounds().Dx(), m.Bounds().Dy()
	dw, dh := w, h
	if o >= 5 {
		dw, dh = h, w
	}
	out := image.NewRGBA(image.Rect(0, 0, dw, dh))
	for y := range dh {
		for x := range dw {
			var sx, sy int
			switch o {
			case 2: // mirrored
				sx, sy = w-1-x, y
			case 3: // upside down
				sx, sy = w-1-x, h-1-y
			case 4: // mirrored upside down
				sx, sy = x, h-1-y
			case 5: // transposed
				sx, sy = y, x
			case 6: // to be turned a quarter clockwise
				sx, sy = y, h-1-x
			case 7: // transversed
				sx, sy = w-1-y, h-1-x
			case 8: // to be turned a quarter anticlockwise
				sx, sy = w-1-y, x
			}
			i, j := m.PixOffset(sx, sy), out.PixOffset(x, y)
			copy(out.Pix[j:j+4], m.Pix[i:i+4])
		}
	}
	return out
}
