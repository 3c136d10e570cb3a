package imaging

import "encoding/binary"

// JPEGHeader is what a JPEG's segments before its image data say about
// showing and decoding it.
type JPEGHeader struct {
	Orientation int     // the EXIF orientation, 1 to 8; 0 when absent
	Progressive bool    // SOF2: the decoder keeps every coefficient
	Samples     float64 // the components' samples per pixel: 3 for 4:4:4 colour, 1.5 for 4:2:0
}

// ParseJPEGHeader reads the segments of a JPEG up to its image data; it
// stops at whatever it does not understand.
func ParseJPEGHeader(b []byte) JPEGHeader {
	var h JPEGHeader
	if len(b) < 4 || b[0] != 0xFF || b[1] != 0xD8 {
		return h
	}
	for i := 2; i+4 <= len(b); {
		if b[i] != 0xFF {
			return h
		}
		marker := b[i+1]
		switch {
		case marker == 0xFF: // fill byte
			i++
			continue
		case marker == 0x01 || marker >= 0xD0 && marker <= 0xD8: // no length
			i += 2
			continue
		case marker == 0xDA || marker == 0xD9: // image data or end: no more headers
			return h
		}
		n := int(binary.BigEndian.Uint16(b[i+2:]))
		if n < 2 || i+2+n > len(b) {
			return h
		}
		seg := b[i+4 : i+2+n]
		switch {
		case marker == 0xE1 && h.Orientation == 0 && len(seg) >= 6 && string(seg[:6]) == "Exif\x00\x00":
			h.Orientation = exifOrientation(seg[6:])
		case marker == 0xC0 || marker == 0xC1 || marker == 0xC2: // the frame, as the decoder reads it
			h.Progressive = marker == 0xC2
			h.Samples = jpegSamples(seg)
		}
		i += 2 + n
	}
	return h
}

// jpegSamples returns the samples per pixel that a start-of-frame
// segment's components add up to; 4 (the most) when it does not parse.
func jpegSamples(sof []byte) float64 {
	if len(sof) < 6 {
		return 4
	}
	nc := int(sof[5])
	if nc == 0 || len(sof) < 6+3*nc {
		return 4
	}
	hmax, vmax := 1, 1
	for c := range nc {
		hv := sof[6+3*c+1]
		hmax, vmax = max(hmax, int(hv>>4)), max(vmax, int(hv&15))
	}
	var s float64
	for c := range nc {
		hv := sof[6+3*c+1]
		s += float64(max(1, int(hv>>4))*max(1, int(hv&15))) / float64(hmax*vmax)
	}
	return s
}

// exifOrientation reads tag 0x0112 from a TIFF structure's first IFD; 0
// when it is absent or malformed.
func exifOrientation(t []byte) int {
	if len(t) < 8 {
		return 0
	}
	var bo binary.ByteOrder
	switch string(t[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return 0
	}
	if bo.Uint16(t[2:]) != 42 {
		return 0
	}
	off := int64(bo.Uint32(t[4:]))
	if off < 8 || off+2 > int64(len(t)) {
		return 0
	}
	n := int64(bo.Uint16(t[off:]))
	for k := range n {
		e := off + 2 + 12*k
		if e+12 > int64(len(t)) {
			return 0
		}
		if bo.Uint16(t[e:]) != 0x0112 {
			continue
		}
		if bo.Uint16(t[e+2:]) != 3 { // SHORT
			return 0
		}
		if v := int(bo.Uint16(t[e+8:])); v >= 1 && v <= 8 {
			return v
		}
		return 0
	}
	return 0
}
