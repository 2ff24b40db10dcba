package storekit

import (
	"encoding/json"
	"fmt"
	"time"
)

// EncodeDelays is how an event type's retry schedule is stored: a JSON
// array of milliseconds, and ok == false (NULL) for nil, the server's
// schedule. An empty schedule is "[]", not NULL.
func EncodeDelays(delays []time.Duration) (text string, ok bool) {
	if delays == nil {
		return "", false
	}
	ms := make([]int64, len(delays))
	for i, d := range delays {
		ms[i] = d.Milliseconds()
	}
	b, _ := json.Marshal(ms) // []int64 always encodes
	return string(b), true
}

// DecodeDelays reads what EncodeDelays stored; ok == false (NULL) is nil.
func DecodeDelays(text string, ok bool) ([]time.Duration, error) {
	if !ok {
		return nil, nil
	}
	var ms []int64
	if err := json.Unmarshal([]byte(text), &ms); err != nil {
		return nil, fmt.Errorf("retry schedule %q: %w", text, err)
	}
	delays := make([]time.Duration, len(ms))
	for i, m := range ms {
		delays[i] = time.Duration(m) * time.Millisecond
	}
	return delays, nil
}
