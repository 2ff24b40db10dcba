package hookbridge

import (
	"encoding/json"
	"hash/fnv"
	"slices"
	"time"
)

// Source is an inbound URL (/in/{id}) for one payment processor: how its
// notifications are verified, which application their canonical events go
// to, and how far webhooks are switched on for it.
type Source struct {
	ID   string
	Name string // for people; "" when none
	// Scheme is the verification scheme's registry name (inbound.Names),
	// e.g. "stripe"; it also names the processor in canonical payloads.
	Scheme      string
	Credentials SourceCredentials
	// Tolerance is how far a signed timestamp may lie from the clock: zero
	// means the scheme's default (five minutes), negative turns the check
	// off.
	Tolerance time.Duration
	Routing   Routing
	Rollout   Rollout
	// StalePolicy is what becomes of a stale notification (one that would
	// move its payment backwards or sideways); "" is StaleForwardFlagged.
	StalePolicy StalePolicy
	// ReconcileEvery is how often the server fetches the processor's
	// events that the webhook path has not seen (backfill), with the
	// source's API credentials; zero = never by itself, only on demand.
	ReconcileEvery time.Duration
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// SourceCredentials are a source's secrets exactly as the processor's
// dashboard shows them; the scheme decides which it reads. They are never
// shown back in full.
//
// The JSON tags here and on Routing and Rollout are the form in which the
// stores keep these values; the API has its own.
type SourceCredentials struct {
	Secret    string     `json:"secret,omitempty"`    // signing secret, webhook key or private key
	PublicKey string     `json:"publicKey,omitempty"` // Braintree's public key, or a Standard Webhooks whpk_ key
	KeyID     string     `json:"keyId,omitempty"`     // PayPal's webhook ID, or Worldpay's keyId
	CertPEM   string     `json:"certPem,omitempty"`   // PayPal's certificate supplied offline; "" = fetched
	HMAC      SourceHMAC `json:"hmac"`
	// API are read-only credentials for the processor's own API, with
	// which its events are listed (backfill); zero when none.
	API SourceAPICredentials `json:"api,omitzero"`
}

// SourceAPICredentials let Hookbridge read a processor's events list. Key
// is Stripe's restricted (or secret) key, Square's access token or
// GoCardless's access token; PayPal takes ClientID and ClientSecret (an
// OAuth client-credentials grant). BaseURL replaces the processor's live
// API address (a sandbox); "" = live.
type SourceAPICredentials struct {
	Key          string `json:"key,omitempty"`
	ClientID     string `json:"clientId,omitempty"`
	ClientSecret string `json:"clientSecret,omitempty"`
	BaseURL      string `json:"baseUrl,omitempty"`
}

// SourceHMAC configures the generic "hmac" scheme.
type SourceHMAC struct {
	Header          string `json:"header,omitempty"`
	Algorithm       string `json:"algorithm,omitempty"` // sha1, sha256 (default) or sha512
	Encoding        string `json:"encoding,omitempty"`  // hex (default) or base64
	Prefix          string `json:"prefix,omitempty"`
	TimestampHeader string `json:"timestampHeader,omitempty"`
}

// Routing says which application a source's canonical events belong to. A
// notification's merchant (read from MerchantField, or the processor's
// usual field) is looked up in Merchants; a merchant that is not listed, or
// a notification without one, goes to App, the source's default
// application: for a source on a single account (Stripe without Connect,
// whose notifications name no merchant), the one that takes everything.
// With neither, the notification is stored and not forwarded.
type Routing struct {
	// App is the default application, by id or uid: it takes the
	// notifications of merchants not in Merchants, and those that name no
	// merchant; "" = none.
	App string `json:"app,omitempty"`
	// Merchants maps the processor's merchant or account id to an
	// application id or uid.
	Merchants map[string]string `json:"merchants,omitempty"`
	// MerchantField is a dotted path to the merchant in the notification
	// (e.g. "data.object.on_behalf_of"); "" means the processor's usual
	// field (see docs/inbound.md).
	MerchantField string `json:"merchantField,omitempty"`
}

// AppFor returns the application (id or uid) a merchant's events go to, or
// "" when none.
func (r Routing) AppFor(merchant string) string {
	if app, ok := r.Merchants[merchant]; ok && merchant != "" {
		return app
	}
	return r.App
}

// RolloutState is how far webhooks are switched on for a source.
type RolloutState string

const (
	// RolloutOff: the source answers 404 and keeps nothing; the platform
	// polls the processor.
	RolloutOff RolloutState = "off"
	// RolloutShadow: notifications are verified, acknowledged and stored,
	// and compared with what polling saw, but not forwarded.
	RolloutShadow RolloutState = "shadow"
	// RolloutOn: notifications are forwarded as canonical messages, for
	// the merchants the rollout's limits select.
	RolloutOn RolloutState = "on"
)

// Valid reports whether s is one of the three states.
func (s RolloutState) Valid() bool {
	return s == RolloutOff || s == RolloutShadow || s == RolloutOn
}

// Rollout is a source's state and, when on, which merchants it is on for.
// With no limit it is on for every merchant. With limits, a merchant is
// forwarded when it is in Merchants or its bucket is below Percent; the
// others are treated as shadow. A notification that names no merchant (a
// single account: Stripe without Connect) is selected by the percentage
// alone, through the bucket of the payment it concerns, so that a share of
// one account's payments goes through whole, every event of a payment
// alike; one that names neither is not selected.
type Rollout struct {
	State     RolloutState `json:"state"`
	Merchants []string     `json:"merchants,omitempty"` // merchant ids it is on for; nil = no list
	Percent   *int         `json:"percent,omitempty"`   // 0 to 100: merchants (or, without one, payments) whose MerchantBucket is below it; nil = no percentage
}

// Limited reports whether the rollout selects merchants rather than being
// on for all.
func (r Rollout) Limited() bool { return len(r.Merchants) > 0 || r.Percent != nil }

// Forwards reports whether a notification for merchant, about payment, is
// forwarded. payment matters only when merchant is "".
func (r Rollout) Forwards(merchant, payment string) bool {
	if r.State != RolloutOn {
		return false
	}
	if !r.Limited() {
		return true
	}
	if merchant == "" {
		return payment != "" && r.Percent != nil && MerchantBucket(payment) < *r.Percent
	}
	return slices.Contains(r.Merchants, merchant) || r.Percent != nil && MerchantBucket(merchant) < *r.Percent
}

// Equal reports whether two rollouts select the same merchants the same way.
func (r Rollout) Equal(o Rollout) bool {
	return r.State == o.State && slices.Equal(r.Merchants, o.Merchants) &&
		(r.Percent == nil) == (o.Percent == nil) && (r.Percent == nil || *r.Percent == *o.Percent)
}

// MerchantBucket places a merchant (or, for a notification without one, a
// payment) in one of 100 buckets: FNV-1a (32 bit) of its id, modulo 100. The bucket depends on the id alone, so a
// percentage rollout is stable across restarts and instances, and raising
// the percentage only adds merchants.
func MerchantBucket(merchant string) int {
	h := fnv.New32a()
	h.Write([]byte(merchant))
	return int(h.Sum32() % 100)
}

// RolloutChange is one audited change of a source's rollout: who made it,
// when, and the rollout before and after. A source's creation is recorded
// as a change from the zero Rollout.
type RolloutChange struct {
	ID       string
	SourceID string
	Actor    string // who: "admin" for the server-wide key
	From, To Rollout
	At       time.Time
}

// InboundEvent is one processor event as a source received it, kept for
// audit: the raw notification, what was made of it, and whether it was
// forwarded. A batched notification (Adyen, GoCardless) is stored once per
// event it carries, each with the whole body.
type InboundEvent struct {
	ID       string
	SourceID string
	// EventID is the de-duplication key, unique within the source: the
	// processor's own event id where the signature covers it, otherwise
	// "sha256:" + the hex SHA-256 of the body (with ":<n>" for the n-th
	// event of a batch).
	EventID string
	// Type is the processor's name for what happened, e.g.
	// "payment_intent.succeeded" or "AUTHORISATION"; "" when unknown.
	Type     string
	Merchant string // the merchant or account it concerns; "" when none
	// Headers are the request headers worth keeping (the signature and
	// identification headers), one value each.
	Headers map[string]string
	Body    []byte
	// Note says how it was verified and what became of it, e.g. that it
	// maps to no canonical event, or the rollout held it back.
	Note string
	// Forward records the rollout's decision when it arrived: true when it
	// was to be forwarded (state on, merchant selected).
	Forward bool
	// AppID is the application it was routed to; "" when none.
	AppID string
	// MessageIDs are the canonical messages it was forwarded as; nil until
	// then, and always when Forward is false.
	MessageIDs []string
	// Canonical are the canonical messages the event stands for, as the
	// normaliser made them (without the payment's sequence and status,
	// which Payments holds); nil when it maps to none.
	Canonical []CanonicalMessage
	// Payments holds, for each of Canonical in order, what it did to the
	// payment it concerns (a step without a PaymentID for one about no
	// payment); nil when no message concerns a payment. The receiver fills
	// in what the messages say; CreateInboundEvent, the rest.
	Payments []PaymentStep
	// Stale says one of Payments is stale: the event would have moved its
	// payment backwards or sideways.
	Stale bool
	// Held says the event is stale and its source's policy holds it: it is
	// not forwarded (Forward is false) until it is released.
	Held bool
	// ReleasedAt and ReleasedBy say when and by whom a held event was
	// released; zero and "" for one never held.
	ReleasedAt time.Time
	ReleasedBy string
	OccurredAt time.Time // when the processor says it happened; zero when unknown
	ReceivedAt time.Time
	// BodyDroppedAt is when the raw body was dropped (its retention ran
	// out; Body is then nil); zero while it is kept.
	BodyDroppedAt time.Time
	// Via is how the event arrived: ViaWebhook ("" reads as it) or
	// ViaBackfill, fetched from the processor's events list.
	Via string
}

// How an inbound event arrived (InboundEvent.Via).
const (
	ViaWebhook  = "webhook"
	ViaBackfill = "backfill"
)

// BackfillState is what a source's backfill has done: where it has got to
// (HighWater, the newest processor event time a complete run covered) and
// how its runs went, for the operator. A source that never ran one has
// the zero state.
type BackfillState struct {
	SourceID string
	// HighWater is the creation time of the newest event that a run which
	// completed fetched; the next periodic run starts a little before it.
	HighWater time.Time
	// LastRunAt is when the last run ended, successful or not;
	// LastSuccessAt, when the last complete one did.
	LastRunAt, LastSuccessAt time.Time
	// LastError is why the last run failed; "" when it completed.
	LastError string
	Runs      int64 // runs ended
	Failures  int64 // runs that failed
	// Totals over every run: events fetched, those new to the source
	// (backfilled), those it had already (duplicates), and requests made
	// to the processor.
	Fetched, Backfilled, Duplicates, Requests int64
}

// CanonicalMessage is one canonical message an inbound event stands for:
// its type and payload (JSON). The JSON tags are the form in which the
// stores keep it.
type CanonicalMessage struct {
	EventType string          `json:"eventType"`
	Payload   json.RawMessage `json:"payload"`
}

// InboundFilter narrows a source's inbound events.
type InboundFilter struct {
	ListOptions
	// Held lists only the events held (StaleHold) and not released yet.
	Held bool
}

// Observation is a processor event that the platform saw by polling,
// reported so that webhooks and polling can be compared while a source is
// rolled out. EventID is compared with InboundEvent.EventID.
type Observation struct {
	SourceID   string
	EventID    string
	OccurredAt time.Time // when the processor says it happened; zero when unknown
	SeenAt     time.Time // when polling saw it
}

// Comparison is what webhooks and polling each saw of a source's events.
// An event counts when either side saw it within the window asked about;
// it is then classified by what each side saw of it at any time.
type Comparison struct {
	Webhook     int64 // events that arrived by webhook
	Polling     int64 // events that polling saw
	Both        int64
	WebhookOnly int64
	PollingOnly int64
	// Backfilled are the events that arrived by backfill (fetched from the
	// processor's events list) and never by webhook; they count in
	// Polling when the backfill observed them.
	Backfilled int64
	// Leads are, for events both saw, how much earlier the webhook arrived
	// than polling saw the event (negative when polling was first), in
	// ascending order.
	Leads []time.Duration
}

// LeadPercentile returns the p-th percentile (0 to 100, nearest rank) of
// the leads, and false when there are none.
func (c Comparison) LeadPercentile(p float64) (time.Duration, bool) {
	n := len(c.Leads)
	if n == 0 {
		return 0, false
	}
	// Nearest rank: the smallest lead with at least p% at or below it.
	rank := int(p/100*float64(n) + 0.999999999)
	rank = min(max(rank, 1), n)
	return c.Leads[rank-1], true
}
