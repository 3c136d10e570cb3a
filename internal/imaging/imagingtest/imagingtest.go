// Package imagingtest builds JPEG headers with chosen contents, for tests
// of code that reads them.
package imagingtest

import "encoding/binary"

// WithEXIFOrientation returns j with an APP1 EXIF segment with orientation o
// after a JPEG's SOI marker.
func WithEXIFOrientation(j []byte, o uint16, order binary.AppendByteOrder) []byte {
	tiff := []byte("MM\x00\x2a")
	if order == binary.LittleEndian {
		tiff = []byte("II\x2a\x00")
	}
	tiff = order.AppendUint32(tiff, 8)
	tiff = order.AppendUint16(tiff, 2) // two entries: an unrelated tag, then orientation
	tiff = order.AppendUint16(tiff, 0x010f)
	tiff = order.AppendUint16(tiff, 2)
	tiff = order.AppendUint32(tiff, 4)
	tiff = append(tiff, "Cam\x00"...)
	tiff = order.AppendUint16(tiff, 0x0112)
	tiff = order.AppendUint16(tiff, 3)
	tiff = order.AppendUint32(tiff, 1)
	tiff = order.AppendUint16(tiff, o)
	tiff = append(tiff, 0, 0)
	tiff = order.AppendUint32(tiff, 0)
	payload := append([]byte("Exif\x00\x00"), tiff...)
	seg := []byte{0xFF, 0xE1}
	seg = binary.BigEndian.AppendUint16(seg, uint16(2+len(payload)))
	seg = append(seg, payload...)
	out := append([]byte{}, j[:2]...)
	out = append(out, seg...)
	return append(out, j[2:]...)
}

// JPEGSOF returns the start of a JPEG: a JFIF segment, then a frame (marker)
// of w×h in three components, the first sampled at lumaHV, and nothing
// else.
func JPEGSOF(marker byte, w, h uint16, lumaHV byte) []byte {
	b := []byte{0xFF, 0xD8, 0xFF, 0xE0, 0, 16}
	b = append(b, "JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"...)
	sof := []byte{8}
	sof = binary.BigEndian.AppendUint16(sof, h)
	sof = binary.BigEndian.AppendUint16(sof, w)
	sof = append(sof, 3, 1, lumaHV, 0, 2, 0x11, 1, 3, 0x11, 1)
	b = append(b, 0xFF, marker)
	b = binary.BigEndian.AppendUint16(b, uint16(2+len(sof)))
	return append(b, sof...)
}
