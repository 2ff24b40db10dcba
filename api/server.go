package api

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/netguard"
	"github.com/hookbridge/hookbridge/tracing"
)

// DefaultMaxPayload is the largest message payload accepted when
// Config.MaxPayload is zero: 256 KiB.
const DefaultMaxPayload = 256 << 10

// bodySlack is how much larger than MaxPayload a request body may be: room
// for the envelope around a message payload (event type, eventId, channels,
// an application to create).
const bodySlack = 64 << 10

// RequestIDHeader carries the id of a request: taken from the request when
// the caller sent a sane one, generated otherwise, and always echoed in the
// response so that a caller can quote it and an operator can find its log
// line.
const RequestIDHeader = "X-Request-Id"

// Config configures a Server. Zero values mean the documented defaults.
type Config struct {
	// Store keeps everything; every handler reads and writes through it.
	Store hookbridge.Store
	// Guard checks endpoint URLs when they are set; nil means netguard.New()
	// (every special-purpose range refused).
	Guard *netguard.Guard
	// AdminKeyHash is hookbridge.HashKey of the server-wide admin key.
	// Authenticated routes require "Authorization: Bearer <key>". When it is
	// empty every authenticated request is refused.
	AdminKeyHash string
	// MaxPayload is the largest message payload accepted, in bytes; larger
	// ones are answered 413. Zero means DefaultMaxPayload.
	MaxPayload int64
	// Wake tells the dispatcher there is new work: it is called after every
	// accepted message, resend and recovery. Nil means nothing to tell.
	Wake func()
	// StoreWakes says the store tells the dispatcher about the deliveries
	// of new messages itself (it hands them over, see hookbridge.Handoff),
	// so Wake is not called for accepted messages, only for resends and
	// recoveries: a wake-up there would send the claimer looking for work
	// it already has.
	StoreWakes bool
	// TaskCreated is called after a background task (a bulk replay or
	// recovery) was created, so that the task worker starts it now
	// (replay.Worker's Kick). It must not block. Nil: the task waits for
	// a worker's next poll.
	TaskCreated func()
	// EventsRecorded is called after a change to an endpoint, with which
	// the store recorded its operational event (endpoint.created,
	// endpoint.updated, endpoint.deleted), so that it is sent at once
	// (operational.Relay's Kick). It must not block. Nil: the event waits
	// for the relay's next poll.
	EventsRecorded func()
	// RetryScheduleChanged is called after a change that may have changed
	// an event type's retry schedule, so that this process's dispatcher
	// reads it again at once (dispatch.Dispatcher.ForgetRetrySchedule);
	// other instances see it within their schedule TTL. It must not
	// block. Nil: nothing to tell.
	RetryScheduleChanged func(eventType string)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives one line per request and the details of internal
	// errors; nil means slog.Default().
	Logger *slog.Logger
	// Version is reported in the served OpenAPI document.
	Version string
	// PublicURL is where browsers reach this server (scheme://host[:port],
	// no trailing slash), for the links app-portal-access returns. Empty
	// means the scheme and host each such request was addressed to.
	PublicURL string
	// Tracer, if set, records a span per request, continuing the caller's
	// traceparent, and gives each accepted message its trace context.
	Tracer *tracing.Tracer
	// StrictEventTypes refuses a message whose event type is not in the
	// catalogue, or is archived (422 on body.eventType). False accepts it,
	// as Svix does, and counts it (see uncatalogued.go).
	StrictEventTypes bool
}

// Server is the management HTTP API. It implements http.Handler.
type Server struct {
	requests     *prometheus.CounterVec // route, code (the status class)
	accepted     prometheus.Counter
	store        hookbridge.Store
	guard        *netguard.Guard
	adminKeyHash string
	maxPayload   int64
	maxBody      int64
	wake         func()
	onEvents     func()
	// onScheduleChange is Config.RetryScheduleChanged.
	onScheduleChange func(eventType string)
	taskCreated      func()
	wakeCreated      func() // after accepting messages: wake, or nothing if StoreWakes
	now              func() time.Time
	log              *slog.Logger
	openapi          []byte // the served OpenAPI document, rendered once
	publicURL        string
	tracer           *tracing.Tracer // nil: no tracing
	portalKey        portalKey       // see portal.go
	authThrottle     *authThrottle   // failed authentication; see throttle.go
	schemes          schemeCache     // verifiers of inbound sources; see inbound.go
	backfill         backfillMetrics // see backfill.go
	apiKeys          apiKeyCache     // API keys read recently; see apikeys.go
	ready            readiness       // whether the store can write; see health.go

	strictEventTypes bool
	uncatalogued     uncatalogued // messages of event types not in the catalogue

	mux    *http.ServeMux
	routes []route // what mux serves, for the OpenAPI conformance test
}

// route is one registered method and path pattern.
type route struct {
	method, path string
	who          routeAccess
}

// routeAccess says which keys may call a route.
type routeAccess int

const (
	routePublic routeAccess = iota // no key: health, the OpenAPI document, inbound sources
	routeAdmin                     // the admin key only
	// routeApp: the admin key, or an application's key (a portal token,
	// Svix's application-scoped token) for the application the path names
	// as {app_id}, by id or uid; a read-only one may only read. The few
	// such routes without {app_id} read the event type catalogue.
	routeApp
	// routeOwnKey: any valid key, a read-only application's key included:
	// the route acts on the key it is called with (logout).
	routeOwnKey
	// routeSend: the admin key, an ingest API key, or an application's API
	// key for the path's {app_id}: the routes that create messages.
	routeSend
	// routeSource: the admin key or an inbound API key: the inbound
	// sources' management routes.
	routeSource
	// routeAppTask: the admin key, or an application's key (a portal
	// token, an application-scoped API key) for that application's
	// background tasks, which the handler keeps to (taskScope); a
	// read-only one may only read.
	routeAppTask
)

// counterVec makes a counter named name, explained by help, by labels.
func counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
}

// New returns a Server for cfg.
func New(cfg Config) *Server {
	s := &Server{
		requests: counterVec("hookbridge_http_requests_total",
			"API requests this instance answered, by route pattern and status class (the dashboard's and the portal's calls included).", "route", "code"),
		accepted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hookbridge_messages_accepted_total",
			Help: "Messages this instance accepted and stored (a repeated eventId is not counted again).",
		}),
		store:            cfg.Store,
		guard:            cfg.Guard,
		adminKeyHash:     cfg.AdminKeyHash,
		maxPayload:       cmp.Or(cfg.MaxPayload, DefaultMaxPayload),
		wake:             cfg.Wake,
		onEvents:         cfg.EventsRecorded,
		onScheduleChange: cfg.RetryScheduleChanged,
		taskCreated:      cfg.TaskCreated,
		now:              cfg.Now,
		log:              cfg.Logger,
		publicURL:        strings.TrimRight(cfg.PublicURL, "/"),
		tracer:           cfg.Tracer,
		mux:              http.NewServeMux(),
		authThrottle:     newAuthThrottle(maxTrackedClients),
		backfill:         newBackfillMetrics(),

		strictEventTypes: cfg.StrictEventTypes,
	}
	if s.guard == nil {
		s.guard = netguard.New()
	}
	if s.wake == nil {
		s.wake = func() {}
	}
	s.wakeCreated = s.wake
	if cfg.StoreWakes {
		s.wakeCreated = func() {}
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.maxBody = s.maxPayload + bodySlack
	s.openapi = renderOpenAPI(cfg.Version)
	s.registerRoutes()
	return s
}

// handlerFunc is the shape of every endpoint handler: it writes a success
// response itself and returns an error for everything else, which
// writeError turns into the one error body format.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

func (s *Server) registerRoutes() {
	// Unauthenticated.
	s.public("GET /api/v1/health/ping", s.handlePing)
	s.public("GET /api/v1/health", s.handleHealth)
	s.public("GET /api/v1/health/ready", s.handleReady)
	s.public("GET /api/v1/openapi.json", s.handleOpenAPI)

	s.ownKey("POST /api/v1/auth/logout", s.handleLogout)
	s.private("POST /api/v1/auth/app-portal-access/{app_id}", s.handleAppPortalAccess)
	s.private("POST /api/v1/auth/app/{app_id}/expire-all", s.handleExpireAll)

	// private: the admin key only. app: also an application's own key, for
	// its application — what a consumer needs of it (see authorizeApp).
	s.private("GET /api/v1/app", s.handleListApplications)
	s.private("POST /api/v1/app", s.handleCreateApplication)
	s.app("GET /api/v1/app/{app_id}", s.handleGetApplication)
	s.private("PUT /api/v1/app/{app_id}", s.handleUpdateApplication)
	s.private("PATCH /api/v1/app/{app_id}", s.handlePatchApplication)
	s.private("DELETE /api/v1/app/{app_id}", s.handleDeleteApplication)

	s.app("GET /api/v1/app/{app_id}/endpoint", s.handleListEndpoints)
	s.app("POST /api/v1/app/{app_id}/endpoint", s.handleCreateEndpoint)
	s.app("GET /api/v1/app/{app_id}/endpoint/{endpoint_id}", s.handleGetEndpoint)
	s.app("PUT /api/v1/app/{app_id}/endpoint/{endpoint_id}", s.handleUpdateEndpoint)
	s.app("PATCH /api/v1/app/{app_id}/endpoint/{endpoint_id}", s.handlePatchEndpoint)
	s.app("DELETE /api/v1/app/{app_id}/endpoint/{endpoint_id}", s.handleDeleteEndpoint)
	s.app("GET /api/v1/app/{app_id}/endpoint/{endpoint_id}/secret", s.handleGetEndpointSecret)
	s.app("POST /api/v1/app/{app_id}/endpoint/{endpoint_id}/secret/rotate", s.handleRotateEndpointSecret)
	s.app("GET /api/v1/app/{app_id}/endpoint/{endpoint_id}/headers", s.handleGetEndpointHeaders)
	s.app("PUT /api/v1/app/{app_id}/endpoint/{endpoint_id}/headers", s.handleUpdateEndpointHeaders)
	s.app("PATCH /api/v1/app/{app_id}/endpoint/{endpoint_id}/headers", s.handlePatchEndpointHeaders)
	s.app("GET /api/v1/app/{app_id}/endpoint/{endpoint_id}/fifo", s.handleGetEndpointFIFO)
	s.app("PUT /api/v1/app/{app_id}/endpoint/{endpoint_id}/fifo", s.handleUpdateEndpointFIFO)
	s.app("GET /api/v1/app/{app_id}/endpoint/{endpoint_id}/filter", s.handleGetEndpointFilter)
	s.app("PUT /api/v1/app/{app_id}/endpoint/{endpoint_id}/filter", s.handleUpdateEndpointFilter)
	s.app("DELETE /api/v1/app/{app_id}/endpoint/{endpoint_id}/filter", s.handleDeleteEndpointFilter)
	s.app("POST /api/v1/app/{app_id}/endpoint/{endpoint_id}/filter/test", s.handleTestEndpointFilter)
	s.app("GET /api/v1/app/{app_id}/endpoint/{endpoint_id}/mtls", s.handleGetEndpointMTLS)
	s.app("PUT /api/v1/app/{app_id}/endpoint/{endpoint_id}/mtls", s.handlePutEndpointMTLS)
	s.app("DELETE /api/v1/app/{app_id}/endpoint/{endpoint_id}/mtls", s.handleDeleteEndpointMTLS)
	s.app("GET /api/v1/app/{app_id}/endpoint/{endpoint_id}/oauth", s.handleGetEndpointOAuth)
	s.app("PUT /api/v1/app/{app_id}/endpoint/{endpoint_id}/oauth", s.handlePutEndpointOAuth)
	s.app("DELETE /api/v1/app/{app_id}/endpoint/{endpoint_id}/oauth", s.handleDeleteEndpointOAuth)
	s.app("POST /api/v1/app/{app_id}/endpoint/{endpoint_id}/recover", s.handleRecoverEndpoint)
	s.app("POST /api/v1/app/{app_id}/endpoint/{endpoint_id}/replay-missing", s.handleReplayMissing)
	s.app("POST /api/v1/app/{app_id}/endpoint/{endpoint_id}/bulk-replay", s.handleBulkReplay)
	s.app("POST /api/v1/app/{app_id}/endpoint/{endpoint_id}/send-example", s.handleSendExample)
	s.app("GET /api/v1/app/{app_id}/endpoint/{endpoint_id}/stats", s.handleEndpointStats)
	s.app("GET /api/v1/app/{app_id}/endpoint/{endpoint_id}/msg", s.handleListAttemptedMessages)

	s.app("GET /api/v1/app/{app_id}/msg", s.handleListMessages)
	s.send("POST /api/v1/app/{app_id}/msg", s.handleCreateMessage)
	s.send("POST /api/v1/app/{app_id}/msg/batch", s.handleCreateMessageBatch)
	s.app("GET /api/v1/app/{app_id}/msg/{msg_id}", s.handleGetMessage)
	s.private("DELETE /api/v1/app/{app_id}/msg/{msg_id}/content", s.handleExpungeMessageContent)
	s.app("GET /api/v1/app/{app_id}/msg/{msg_id}/attempt/{attempt_id}", s.handleGetAttempt)
	s.private("DELETE /api/v1/app/{app_id}/msg/{msg_id}/attempt/{attempt_id}/content", s.handleExpungeAttemptContent)
	s.app("GET /api/v1/app/{app_id}/msg/{msg_id}/endpoint", s.handleListAttemptedDestinations)
	s.app("POST /api/v1/app/{app_id}/msg/{msg_id}/endpoint/{endpoint_id}/resend", s.handleResend)
	s.send("POST /api/v1/app/{app_id}/msg/{msg_id}/cancel", s.handleCancelMessage)
	s.app("GET /api/v1/app/{app_id}/scheduled-msg", s.handleListScheduledMessages)
	s.app("GET /api/v1/app/{app_id}/attempt/msg/{msg_id}", s.handleListAttemptsByMessage)
	s.app("GET /api/v1/app/{app_id}/attempt/endpoint/{endpoint_id}", s.handleListAttemptsByEndpoint)

	s.app("GET /api/v1/event-type", s.handleListEventTypes)
	s.private("POST /api/v1/event-type", s.handleCreateEventType)
	s.app("GET /api/v1/event-type/{event_type_name}", s.handleGetEventType)
	s.private("PUT /api/v1/event-type/{event_type_name}", s.handleUpdateEventType)
	s.private("PATCH /api/v1/event-type/{event_type_name}", s.handlePatchEventType)
	s.private("DELETE /api/v1/event-type/{event_type_name}", s.handleDeleteEventType)
	s.private("GET /api/v1/event-type/{event_type_name}/retry-schedule", s.handleGetRetrySchedule)
	s.private("PUT /api/v1/event-type/{event_type_name}/retry-schedule", s.handleUpdateRetrySchedule)
	s.private("DELETE /api/v1/event-type/{event_type_name}/retry-schedule", s.handleDeleteRetrySchedule)

	s.app("GET /api/v1/app/{app_id}/events", s.handleEventsFeed)

	// Operational webhook endpoints (see operational.go).
	s.private("GET /api/v1/operational-webhook/endpoint", s.handleListOperationalEndpoints)
	s.private("POST /api/v1/operational-webhook/endpoint", s.handleCreateOperationalEndpoint)
	s.private("GET /api/v1/operational-webhook/endpoint/{endpoint_id}", s.handleGetOperationalEndpoint)
	s.private("PUT /api/v1/operational-webhook/endpoint/{endpoint_id}", s.handleUpdateOperationalEndpoint)
	s.private("DELETE /api/v1/operational-webhook/endpoint/{endpoint_id}", s.operationalHandler(s.handleDeleteEndpoint))
	s.private("GET /api/v1/operational-webhook/endpoint/{endpoint_id}/secret", s.operationalHandler(s.handleGetEndpointSecret))
	s.private("POST /api/v1/operational-webhook/endpoint/{endpoint_id}/secret/rotate", s.operationalHandler(s.handleRotateEndpointSecret))

	// Inbound sources (see sources.go); /in/{source_id} is authenticated by
	// the processor's signature (see inbound.go).
	s.public("POST /in/{source_id}", s.handleInbound)
	s.public("GET /in/{source_id}", s.handleInbound) // Braintree's bt_challenge check
	s.sourceRoute("GET /api/v1/source", s.handleListSources)
	s.sourceRoute("POST /api/v1/source", s.handleCreateSource)
	s.sourceRoute("GET /api/v1/source/{source_id}", s.handleGetSource)
	s.sourceRoute("PUT /api/v1/source/{source_id}", s.handleUpdateSource)
	s.sourceRoute("DELETE /api/v1/source/{source_id}", s.handleDeleteSource)
	s.sourceRoute("GET /api/v1/source/{source_id}/rollout", s.handleListRolloutChanges)
	s.sourceRoute("PATCH /api/v1/source/{source_id}/rollout", s.handlePatchRollout)
	s.sourceRoute("GET /api/v1/source/{source_id}/events", s.handleListInboundEvents)
	s.sourceRoute("GET /api/v1/source/{source_id}/events/{event_id}", s.handleGetInboundEvent)
	s.sourceRoute("POST /api/v1/source/{source_id}/events/{event_id}/release", s.handleReleaseInboundEvent)
	s.sourceRoute("POST /api/v1/source/{source_id}/observed", s.handleObserved)
	s.sourceRoute("GET /api/v1/source/{source_id}/comparison", s.handleComparison)
	s.sourceRoute("GET /api/v1/source/{source_id}/backfill", s.handleGetBackfill)
	s.sourceRoute("POST /api/v1/source/{source_id}/backfill", s.handleRunBackfill)

	// Background tasks (see tasks.go): of every application, so the
	// admin's only.
	s.appTask("GET /api/v1/background-task", s.handleListBackgroundTasks)
	s.appTask("GET /api/v1/background-task/{task_id}", s.handleGetBackgroundTask)
	s.appTask("POST /api/v1/background-task/{task_id}/cancel", s.handleCancelBackgroundTask)

	// API keys (see apikeys.go): the admin's only.
	s.private("GET /api/v1/api-key", s.handleListAPIKeys)
	s.private("POST /api/v1/api-key", s.handleCreateAPIKey)
	s.private("GET /api/v1/api-key/{key_id}", s.handleGetAPIKey)
	s.private("POST /api/v1/api-key/{key_id}/rotate", s.handleRotateAPIKey)
	s.private("DELETE /api/v1/api-key/{key_id}", s.handleRevokeAPIKey)

	// Everything else: a JSON 404 or 405 instead of the mux's plain text.
	s.mux.HandleFunc("/", s.handleUnrouted)
}

func (s *Server) public(pattern string, h handlerFunc)  { s.register(pattern, routePublic, h) }
func (s *Server) private(pattern string, h handlerFunc) { s.register(pattern, routeAdmin, h) }
func (s *Server) app(pattern string, h handlerFunc)     { s.register(pattern, routeApp, h) }
func (s *Server) appTask(pattern string, h handlerFunc) { s.register(pattern, routeAppTask, h) }
func (s *Server) ownKey(pattern string, h handlerFunc)  { s.register(pattern, routeOwnKey, h) }
func (s *Server) send(pattern string, h handlerFunc)    { s.register(pattern, routeSend, h) }
func (s *Server) sourceRoute(pattern string, h handlerFunc) {
	s.register(pattern, routeSource, h)
}

func (s *Server) register(pattern string, who routeAccess, h handlerFunc) {
	method, path, _ := strings.Cut(pattern, " ")
	s.routes = append(s.routes, route{method: method, path: path, who: who})
	var next http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := checkQuery(r.URL.RawQuery)
		if err == nil {
			err = h(w, r)
		}
		if err != nil {
			s.writeError(w, r, err)
		}
	})
	if who != routePublic {
		// A route acting on its caller's key keeps no Idempotency-Key
		// answer: once the key is ended, a retry with it is refused before
		// the answer is looked up, so a kept answer could only ever be
		// given to another key, which it would not have ended.
		if method == http.MethodPost && who != routeOwnKey {
			next = s.idempotent(next)
		}
		next = s.authenticate(next, who)
	}
	s.mux.Handle(pattern, next)
}

// ServeHTTP serves the API: it assigns a request id, recovers from panics
// and logs one line per request around the routed handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	id := requestID(r.Header.Get(RequestIDHeader))
	w.Header().Set(RequestIDHeader, id)
	rec := &statusRecorder{ResponseWriter: w}
	var span trace.Span // the request's, when tracing is on

	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.ErrorContext(r.Context(), "panic serving request",
				"request_id", id, "method", r.Method, "path", r.URL.Path,
				"panic", v, "stack", string(debug.Stack()))
			if rec.status == 0 {
				writeJSON(rec, http.StatusInternalServerError, httpErrorOut{Code: hookbridge.EINTERNAL, Detail: "internal error"})
			}
		}
		s.logRequest(r, rec, id, start)
		if span != nil {
			s.endSpan(span, r, rec, id) // after a panic's 500 is written
		}
	}()
	if !pathIsText(r) {
		writeJSON(rec, http.StatusNotFound, httpErrorOut{Code: hookbridge.ENOTFOUND, Detail: "no such resource: the path is not valid text"})
		return
	}
	if s.tracer != nil {
		var ctx context.Context
		ctx, span = s.startSpan(r)
		r = r.WithContext(ctx)
	}
	s.mux.ServeHTTP(rec, r)
	s.requests.WithLabelValues(cmp.Or(r.Pattern, "unrouted"), statusClass(cmp.Or(rec.status, http.StatusOK))).Inc()
}

// pathIsText reports whether the request's path is valid UTF-8 without
// U+0000. A path that is not names nothing — no id, uid or name can hold
// such bytes, they are checked when set — and PostgreSQL would refuse it
// as a query's text: such a request is answered 404 before it is routed.
func pathIsText(r *http.Request) bool {
	return utf8.ValidString(r.URL.Path) && !strings.ContainsRune(r.URL.Path, 0)
}

// startSpan starts a request's server span, a child of the caller's
// traceparent if it sent one, with the attributes of OpenTelemetry's HTTP
// conventions known before routing.
func (s *Server) startSpan(r *http.Request) (context.Context, trace.Span) {
	method := spanMethod(r.Method)
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	name := method.Value.AsString()
	if name == "_OTHER" {
		name = "HTTP"
	}
	return s.tracer.Start(s.tracer.Extract(r.Context(), r.Header), name,
		trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(method, semconv.URLScheme(scheme), semconv.URLPath(r.URL.Path),
			semconv.UserAgentOriginal(r.UserAgent())))
}

// spanMethod is the http.request.method attribute: a known method as it
// is, any other as "_OTHER", so that a caller cannot make up values.
func spanMethod(m string) attribute.KeyValue {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return semconv.HTTPRequestMethodKey.String(m)
	}
	return semconv.HTTPRequestMethodKey.String("_OTHER")
}

// endSpan ends a request's span, named by its route as OpenTelemetry's
// HTTP conventions name server spans ("POST /api/v1/app/{app_id}/msg").
// A 5xx answer is an error; a 4xx is the caller's, not the server's.
func (s *Server) endSpan(span trace.Span, r *http.Request, rec *statusRecorder, requestID string) {
	defer span.End()
	if !span.IsRecording() {
		return
	}
	status := cmp.Or(rec.status, http.StatusOK)
	if r.Pattern != "" && r.Pattern != "/" {
		span.SetName(r.Pattern)
		_, route, _ := strings.Cut(r.Pattern, " ")
		span.SetAttributes(semconv.HTTPRoute(route))
	}
	span.SetAttributes(semconv.HTTPResponseStatusCode(status), attribute.String("hookbridge.request_id", requestID))
	if status >= 500 {
		span.SetAttributes(semconv.ErrorTypeKey.String(strconv.Itoa(status)))
		span.SetStatus(codes.Error, http.StatusText(status))
	}
}

// traceParent is the trace context to keep with a message accepted by r:
// the request's span's, sampled or not, so that its delivery attempts
// join the trace (and follow its sampling). "" without tracing.
func (s *Server) traceParent(r *http.Request) string {
	if s.tracer == nil {
		return ""
	}
	return s.tracer.Traceparent(r.Context())
}

// statusClass is the class of an HTTP status, as metrics label it: "2xx".
func statusClass(code int) string {
	return strconv.Itoa(code/100) + "xx"
}

// unknownTypesDesc describes the count of messages of event types not in
// the catalogue, which the API keeps itself (UncataloguedMessages).
var unknownTypesDesc = prometheus.NewDesc("hookbridge_messages_unknown_event_type_total",
	"Of those, the messages whose event type was not in the catalogue (--strict-event-types refuses them instead).", nil, nil)

// Describe and Collect make the Server a prometheus.Collector of its
// figures: requests by route and status class, and messages accepted.
func (s *Server) Describe(ch chan<- *prometheus.Desc) {
	s.requests.Describe(ch)
	s.accepted.Describe(ch)
	s.backfill.runs.Describe(ch)
	s.backfill.events.Describe(ch)
	s.backfill.reqs.Describe(ch)
	ch <- unknownTypesDesc
}

// Collect sends the figures' current values; see Describe.
func (s *Server) Collect(ch chan<- prometheus.Metric) {
	s.requests.Collect(ch)
	s.accepted.Collect(ch)
	s.backfill.runs.Collect(ch)
	s.backfill.events.Collect(ch)
	s.backfill.reqs.Collect(ch)
	ch <- prometheus.MustNewConstMetric(unknownTypesDesc, prometheus.CounterValue, float64(s.uncatalogued.count.Load()))
}

// RequireAdmin serves h only to requests with the admin key, or an API
// key of scope admin (or read-only, for a GET), answering the others as
// the API does (401 in its error format; 403 for an application's key or
// another scope).
func (s *Server) RequireAdmin(h http.Handler) http.Handler { return s.authenticate(h, routeAdmin) }

// logRequest writes the request's log line: at debug level when it
// succeeded (the hot path must not pay for formatting lines nobody reads),
// info for client errors and error for server errors.
func (s *Server) logRequest(r *http.Request, rec *statusRecorder, id string, start time.Time) {
	status := cmp.Or(rec.status, http.StatusOK)
	level := slog.LevelDebug
	switch {
	case status >= 500:
		level = slog.LevelError
	case status >= 400:
		level = slog.LevelInfo
	}
	if !s.log.Enabled(r.Context(), level) {
		return
	}
	s.log.LogAttrs(r.Context(), level, "request",
		slog.String("request_id", id),
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.Int("status", status),
		slog.Int64("bytes", rec.bytes),
		slog.Duration("duration", time.Since(start)),
	)
}

// statusRecorder remembers the status and size of a response for the log.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusRecorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// requestID returns the caller's request id if it is short and printable,
// else a new random one.
func requestID(given string) string {
	if given != "" && len(given) <= 128 && isPrintableASCII(given) {
		return given
	}
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b[:])
}

func isPrintableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// authenticate lets a request through with the admin key, or, on a route
// an application's key may call (who), with a valid portal token for the
// application the path names; see authorizeApp. Anything else is 401, or
// 403 for a valid key that may not do this.
func (s *Server) authenticate(next http.Handler, who routeAccess) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isInternalCall(r) { // authenticated by the caller; see ServeAuthenticated
			next.ServeHTTP(w, r)
			return
		}
		h := r.Header.Get("Authorization")
		scheme, token, ok := strings.Cut(h, " ")
		token = strings.TrimSpace(token)
		switch {
		case h == "":
			s.writeError(w, r, hookbridge.Errorf(hookbridge.EUNAUTHORIZED, "missing Authorization header; send \"Authorization: Bearer <key>\""))
		case !ok || !strings.EqualFold(scheme, "Bearer") || token == "":
			s.writeError(w, r, hookbridge.Errorf(hookbridge.EUNAUTHORIZED, "malformed Authorization header; send \"Authorization: Bearer <key>\""))
		case s.adminKeyHash != "" && hookbridge.KeyMatches(token, s.adminKeyHash):
			next.ServeHTTP(w, r)
		case isAPIKeyShaped(token):
			key, err := s.verifyAPIKey(r.Context(), token)
			if err != nil {
				s.writeError(w, r, s.refused(r, token, err))
				return
			}
			if err := s.authorizeKey(r, key, who); err != nil {
				s.writeError(w, r, err)
				return
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), apiKeyCtx{}, key)))
		case strings.HasPrefix(token, portalTokenPrefix):
			access, err := s.VerifyPortalToken(r.Context(), token)
			if err != nil {
				s.writeError(w, r, s.refused(r, token, err))
				return
			}
			if err := s.authorizeApp(r, access, who); err != nil {
				s.writeError(w, r, err)
				return
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), appKey{}, access)))
		default:
			s.writeError(w, r, s.refused(r, token, hookbridge.Errorf(hookbridge.EUNAUTHORIZED, "incorrect authentication credentials")))
		}
	})
}

// refused is the answer to credential failing to authenticate r with err:
// err, or, once too many have failed (see AuthFailed), a
// *TooManyFailures. Only a refused credential (EUNAUTHORIZED) counts; a
// store that could not be read is no failure of the caller's.
func (s *Server) refused(r *http.Request, credential string, err error) error {
	if hookbridge.ErrorCode(err) != hookbridge.EUNAUTHORIZED {
		return err
	}
	if tooMany := s.AuthFailed(r, credential); tooMany != nil {
		return tooMany
	}
	return err
}

// appKey is the context key under which an application's key's access
// travels to the handler.
type appKey struct{}

// appAccess returns the access of the application's key the request was
// made with, or nil for the admin key (or an in-process call).
func appAccess(r *http.Request) *PortalAccess {
	a, _ := r.Context().Value(appKey{}).(*PortalAccess)
	return a
}

// authorizeApp decides what an application's key may do: routes that act
// on the key itself (ownKey), and routes registered with app, only for its
// own application — the path's {app_id}, given as the id or the uid — and,
// when read-only, only GET. Every entity below an application is reached
// through its path, so the path is the whole scope.
func (s *Server) authorizeApp(r *http.Request, access *PortalAccess, who routeAccess) error {
	switch {
	case who == routeOwnKey:
		return nil
	case who == routeAppTask:
		if access.ReadOnly && r.Method != http.MethodGet && r.Method != http.MethodHead {
			return hookbridge.Errorf(hookbridge.EFORBIDDEN, "this key is read-only")
		}
		return nil // the handler keeps to the application's tasks
	case who != routeApp:
		// r.Pattern is "METHOD /path"; outside a mux it is empty.
		return hookbridge.Errorf(hookbridge.EFORBIDDEN, "this key is limited to application %s; %s needs the admin key",
			access.AppID, cmp.Or(r.Pattern, r.Method+" "+r.URL.Path))
	case access.ReadOnly && r.Method != http.MethodGet && r.Method != http.MethodHead:
		return hookbridge.Errorf(hookbridge.EFORBIDDEN, "this key is read-only")
	case access.ReadOnly:
		if err := readOnlyRefuses(r); err != nil {
			return err
		}
	}
	return s.pathNamesApp(r, access.AppID)
}

// pathNamesApp lets r through if its path's {app_id} (by id or uid) is
// appID, or names no application (the catalogue's routes); else it is
// EFORBIDDEN.
func (s *Server) pathNamesApp(r *http.Request, appID string) error {
	named := r.PathValue("app_id")
	if named == "" || named == appID {
		return nil
	}
	app, err := s.store.GetApplication(r.Context(), named)
	if err != nil && !hookbridge.IsNotFound(err) {
		return err
	}
	if err != nil || app.ID != appID {
		return hookbridge.Errorf(hookbridge.EFORBIDDEN, "this key is limited to application %s", appID)
	}
	return nil
}

// handleUnrouted answers requests that no route matches: 405 when the path
// exists with other methods, else 404, both in the API's error format.
func (s *Server) handleUnrouted(w http.ResponseWriter, r *http.Request) {
	var allowed []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "" && pattern != "/" {
			allowed = append(allowed, m)
		}
	}
	if len(allowed) > 0 {
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		writeJSON(w, http.StatusMethodNotAllowed, httpErrorOut{
			Code:   "method_not_allowed",
			Detail: fmt.Sprintf("%s is not allowed on %s; allowed: %s", r.Method, r.URL.Path, strings.Join(allowed, ", ")),
		})
		return
	}
	s.writeError(w, r, hookbridge.Errorf(hookbridge.ENOTFOUND, "no such route: %s %s", r.Method, r.URL.Path))
}

// timeNow returns the current time as the store keeps it: UTC, millisecond
// precision.
func (s *Server) timeNow() time.Time {
	return s.now().UTC().Truncate(time.Millisecond)
}
