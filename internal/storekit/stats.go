package storekit

import (
	"fmt"
	"slices"
	"time"

	"github.com/hookbridge/hookbridge"
)

// countStatus adds n messages whose latest delivery has status to st.
func countStatus(st *hookbridge.EndpointStats, status hookbridge.MessageStatus, n int64) {
	switch status {
	case hookbridge.StatusSuccess:
		st.Success = n
	case hookbridge.StatusPending:
		st.Pending = n
	case hookbridge.StatusFail:
		st.Fail = n
	case hookbridge.StatusSending:
		st.Sending = n
	case hookbridge.StatusCanceled:
		st.Canceled = n
	}
}

// countBacklog adds n non-final deliveries with status, due of them due,
// to b.
func countBacklog(b *hookbridge.Backlog, status hookbridge.MessageStatus, n, due int64) {
	switch status {
	case hookbridge.StatusPending:
		b.Pending += n
	case hookbridge.StatusSending:
		b.Sending += n
	}
	b.Due += due
}

// checkBuckets checks the window and bucket width of AttemptCounts: it returns
// the width in milliseconds, and false when [since, until) is empty, so
// that there is nothing to count. A width under a millisecond is an error.
func checkBuckets(since, until time.Time, width time.Duration) (widthMS int64, ok bool, err error) {
	widthMS = width.Milliseconds()
	if widthMS <= 0 {
		return 0, false, fmt.Errorf("attempt counts: bucket width %v is under a millisecond", width)
	}
	return widthMS, since.Before(until), nil
}

// bucketStart is the first instant of bucket i of AttemptCounts: buckets
// are counted from since, in whole milliseconds.
func bucketStart(since time.Time, widthMS, i int64) time.Time {
	return time.UnixMilli(since.UnixMilli() + i*widthMS).UTC()
}

// missingEventTypes returns, in the order of names and without repeats,
// those of names that are not in known (the catalogue's event types that
// may be subscribed to, not archived): those nothing may subscribe to, as
// in Svix.
func missingEventTypes(names, known []string) []string {
	var missing []string
	for _, n := range names {
		if !slices.Contains(known, n) && !slices.Contains(missing, n) {
			missing = append(missing, n)
		}
	}
	return missing
}
