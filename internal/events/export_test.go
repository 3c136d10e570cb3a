package events

// Encode and Decode expose the wire encoding to the external tests.
var (
	Encode = encode
	Decode = decode
)

// LogSkip exposes how a hub logs an event it cannot read.
func (h *Hub) LogSkip(what string, err error) { h.logSkip(what, err) }
