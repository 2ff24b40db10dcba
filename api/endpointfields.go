package api

// endpointFields are the input fields that Svix's EndpointIn and
// OperationalWebhookEndpointIn (and their Update forms, without secret)
// share, read and checked the same way; each embeds them, so the JSON of
// both is unchanged.
type endpointFields struct {
	URL          *string           `json:"url"`
	Description  string            `json:"description"`
	UID          *string           `json:"uid"`
	RateLimit    *int              `json:"rateLimit"`
	ThrottleRate *int              `json:"throttleRate"`
	Disabled     bool              `json:"disabled"`
	Secret       *string           `json:"secret"`
	Metadata     map[string]string `json:"metadata"`
}
