package bench

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
)

// A (message, endpoint) that reached the receiver more than once is one of
// two things, which the server's attempt log tells apart:
//
//   - a duplicate: the server recorded two or more successful attempts of
//     it, so it delivered it twice, which must never happen;
//   - an abandoned request: the server gave up on a request (its timeout ran
//     out, or shutdown cancelled it) that the receiver nevertheless answered
//     and counted, and tried again; the log holds one success at most, and
//     the receiver saw more requests than that.
//
// The first is a bug of the server; the second is what at-least-once
// delivery means on a loaded machine, and costs the receiver a request.

// repeatSplit is what classify found.
type repeatSplit struct {
	duplicates int64 // repeats matched by a successful attempt each
	abandoned  int64 // repeats beyond the successful attempts
}

// successStatus is an attempt's status when the receiver accepted it
// (MessageStatus 0 of the API).
const successStatus = 0

// classify splits the receiver's repeated arrivals so far by the attempts the
// server at base recorded for each. A repeat it cannot look up (the message
// is not one of ing's) is counted a duplicate: no repeat is explained away
// without the log saying so.
func (b *bench) classify(ctx context.Context, base string, apps []application, ing *ingestResult) (repeatSplit, error) {
	var split repeatSplit
	repeats := b.recv.repeated()
	if len(repeats) == 0 {
		return split, nil
	}
	wanted := make(map[string]int, len(repeats))
	for key := range repeats {
		wanted[key.id] = -1
	}
	for i := range ing.msgs {
		if _, ok := wanted[ing.msgs[i].id]; ok {
			wanted[ing.msgs[i].id] = int(ing.msgs[i].app)
		}
	}
	w := &clientWorker{c: b.client}
	for key, extra := range repeats {
		a := wanted[key.id]
		k := int(key.ep) - apps[max(a, 0)].first
		if a < 0 || k < 0 || k >= len(apps[a].endpoints) {
			split.duplicates += int64(extra)
			continue
		}
		app := &apps[a]
		q := url.Values{"endpoint_id": {app.endpoints[k]}, "with_content": {"false"}, "limit": {"250"}}
		var page struct {
			Data []struct {
				Status int `json:"status"`
			} `json:"data"`
		}
		path := base + "/app/" + app.id + "/attempt/msg/" + key.id + "?" + q.Encode()
		if err := w.call(ctx, http.MethodGet, path, nil, &page); err != nil {
			return repeatSplit{}, fmt.Errorf("attempts of %s: %w", key.id, err)
		}
		successes := 0
		for _, at := range page.Data {
			if at.Status == successStatus {
				successes++
			}
		}
		// The receiver saw 1+extra requests; each success beyond the
		// first that it also saw is a duplicate, the rest were abandoned.
		dup := max(0, min(successes, 1+extra)-1)
		split.duplicates += int64(dup)
		split.abandoned += int64(extra - dup)
	}
	return split, nil
}
