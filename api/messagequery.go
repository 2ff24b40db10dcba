package api

import (
	"net/url"

	"github.com/hookbridge/hookbridge"
)

// messageQuery reads the query of a list of messages, the application's or
// an endpoint's: the page (newest first), the event types, the channel,
// the creation time bounds and whether the payloads are wanted.
func messageQuery(query url.Values, fe *fieldErrors) (pageQuery, hookbridge.MessageFilter, bool) {
	q := listParams(query, fe, idIterator(hookbridge.PrefixMessage), false, hookbridge.OrderDescending)
	f := hookbridge.MessageFilter{
		ListOptions: q.opt,
		EventTypes:  eventTypesParam(query, fe),
		Channel:     channelParam(query, fe),
		Before:      timeParam(query, "before", fe),
		After:       timeParam(query, "after", fe),
	}
	return q, f, boolParam(query, "with_content", true, fe)
}
