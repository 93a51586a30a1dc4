package events

// DecodeSlow is the precise reference path, for the benchmark's baseline.
var DecodeSlow = decodeSlow

// DecodeGoccy is the goccy/go-json one-pass path, for the benchmark's
// baseline. For now it is Decode's own fast path.
var DecodeGoccy = Decode
