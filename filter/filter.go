// Package filter is the language of an endpoint's filter: a CEL expression
// (github.com/google/cel-go) over a message that says whether the endpoint
// gets it, such as
//
//	payload.amount >= 5000 && payload.currency == "EUR"
//
// An expression sees three variables: payload (the message's JSON payload:
// objects are maps, arrays lists, a number written without a fraction or
// an exponent an int, any other number a double), eventType (a string)
// and channels (a list of strings). Ints and doubles compare with each
// other; arithmetic mixing them is an evaluation error.
//
// Invariants:
//
//   - Compile accepts only what type-checks and gives a bool (or a dyn
//     that may): an expression that cannot be a condition is refused when
//     it is set, with the line and column of the first problem (Error),
//     never found out at delivery time.
//   - An expression is at most MaxLength bytes, and one evaluation costs at
//     most MaxCost (CEL's own cost units, about one per operation and per
//     element a macro visits): a filter cannot make the fan-out of a
//     message slow, whatever the payload.
//   - Match never panics and never blocks; an evaluation that fails (a
//     missing field, a type that does not fit, the cost limit) reports its
//     error and no match. What a caller does with that is the caller's
//     rule: the stores deliver nothing (see docs/delivery.md).
//   - A Program is safe for concurrent use; so is an Input once made.
package filter

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/checker"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
)

const (
	// MaxLength is the longest expression accepted, in bytes.
	MaxLength = 2048
	// MaxCost is what one evaluation may cost, in CEL's cost units; an
	// evaluation that would cost more stops with an error (no match).
	// Comparing a few fields costs under 20; a macro over a list of 1,000
	// objects a few thousand.
	MaxCost = 10_000
	// maxDepth bounds the nesting of the expression as the parser reads
	// it.
	maxDepth = 32
)

// env is the one CEL environment every filter compiles in: the variables
// and options above. Built on first use and never changed; a cel.Env is
// safe for concurrent use.
var env = sync.OnceValues(func() (*cel.Env, error) {
	return cel.NewEnv(
		cel.Variable("payload", cel.DynType),
		cel.Variable("eventType", cel.StringType),
		cel.Variable("channels", cel.ListType(cel.StringType)),
		cel.OptionalTypes(),
		cel.CrossTypeNumericComparisons(true),
		cel.ParserExpressionSizeLimit(MaxLength),
		cel.ParserRecursionLimit(maxDepth),
	)
})

// Error is an expression that does not compile. Line and Column (both from
// 1, Column in characters) place the first problem in the expression;
// both are 0 when it has no place (the expression is too long, say).
type Error struct {
	Line, Column int
	Msg          string // the first problem
	more         int    // how many other problems were found
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d, column %d: ", e.Line, e.Column)
	}
	b.WriteString(e.Msg)
	if e.more > 0 {
		fmt.Fprintf(&b, " (and %d more problem", e.more)
		if e.more > 1 {
			b.WriteString("s")
		}
		b.WriteString(")")
	}
	return b.String()
}

// Program is a compiled filter.
type Program struct {
	expr string
	prg  cel.Program
}

// Expr returns the expression the program was compiled from.
func (p *Program) Expr() string { return p.expr }

// Compile parses and type-checks expr. An expression that does not compile
// is an *Error.
func Compile(expr string) (*Program, error) {
	if strings.TrimSpace(expr) == "" {
		return nil, &Error{Msg: "the expression is empty"}
	}
	if len(expr) > MaxLength {
		return nil, &Error{Msg: fmt.Sprintf("the expression is %d bytes; the limit is %d", len(expr), MaxLength)}
	}
	e, err := env()
	if err != nil {
		return nil, fmt.Errorf("filter environment: %w", err)
	}
	ast, iss := e.Compile(expr)
	if iss.Err() != nil {
		errs := iss.Errors()
		first := errs[0]
		fe := &Error{Msg: cleanMessage(first.Message), more: len(errs) - 1}
		if loc := first.Location; loc != nil && loc.Line() > 0 {
			fe.Line, fe.Column = loc.Line(), loc.Column()+1
		}
		return nil, fe
	}
	if t := ast.OutputType(); !t.IsExactType(cel.BoolType) && !t.IsExactType(cel.DynType) {
		return nil, &Error{Line: 1, Column: 1, Msg: fmt.Sprintf("the expression gives %s, not a bool: a filter is a condition", t)}
	}
	// An expression whose worst case is known to stay within MaxCost (no
	// macro over the payload's lists, no function of its strings' lengths)
	// runs without counting its cost, which would cost more than comparing
	// a few fields; any other has its cost counted and is stopped at the
	// limit.
	opts := []cel.ProgramOption{cel.EvalOptions(cel.OptOptimize)}
	if est, err := e.EstimateCost(ast, noSizeHints{}); err != nil || est.Max > MaxCost {
		opts = append(opts, cel.CostLimit(MaxCost))
	}
	prg, err := e.Program(ast, opts...)
	if err != nil {
		return nil, &Error{Msg: err.Error()}
	}
	return &Program{expr: expr, prg: prg}, nil
}

// cleanMessage drops what CEL adds to a message that means nothing to a
// user of filters (there are no containers here).
func cleanMessage(msg string) string {
	return strings.TrimSuffix(msg, " (in container '')")
}

// noSizeHints is a cost estimator that knows nothing of the variables'
// sizes: the payload's lists and strings may be of any length.
type noSizeHints struct{}

func (noSizeHints) EstimateSize(checker.AstNode) *checker.SizeEstimate { return nil }
func (noSizeHints) EstimateCallCost(string, string, *checker.AstNode, []checker.AstNode) *checker.CallEstimate {
	return nil
}

// Input is a message as filters see it, made once and matched against any
// number of programs.
type Input struct {
	vars cel.Activation
}

// NewInput makes the input of a message. A payload that is not JSON is an
// error; a nil payload (expunged) is null.
func NewInput(eventType string, channels []string, payload json.RawMessage) (*Input, error) {
	var p ref.Val = types.NullValue
	if payload != nil {
		var err error
		if p, err = decodePayload(payload); err != nil {
			return nil, err
		}
	}
	if channels == nil {
		channels = []string{}
	}
	vars, err := cel.NewActivation(map[string]any{
		"payload":   p,
		"eventType": eventType,
		"channels":  channels,
	})
	if err != nil {
		return nil, err
	}
	return &Input{vars: vars}, nil
}

// Match evaluates the program on in. An evaluation that fails, or gives
// anything but a bool, is (false, the error).
func (p *Program) Match(in *Input) (bool, error) {
	out, _, err := p.prg.Eval(in.vars)
	if err != nil {
		return false, err
	}
	b, ok := out.(types.Bool)
	if !ok {
		return false, fmt.Errorf("the filter gave %s, not a bool", out.Type().TypeName())
	}
	return bool(b), nil
}

// decodePayload turns a JSON payload into CEL values: objects into maps,
// arrays into lists, integers written as such into ints and other numbers
// into doubles.
func decodePayload(payload json.RawMessage) (ref.Val, error) {
	d := json.NewDecoder(bytes.NewReader(payload))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, fmt.Errorf("payload: %w", err)
	}
	if d.More() {
		return nil, errors.New("payload: more than one JSON value")
	}
	return toVal(v), nil
}

func toVal(v any) ref.Val {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			v[k] = toVal(e)
		}
		return types.NewStringInterfaceMap(types.DefaultTypeAdapter, v)
	case []any:
		l := make([]ref.Val, len(v))
		for i, e := range v {
			l[i] = toVal(e)
		}
		return types.NewRefValList(types.DefaultTypeAdapter, l)
	case json.Number:
		if !strings.ContainsAny(string(v), ".eE") {
			if i, err := v.Int64(); err == nil {
				return types.Int(i)
			}
		}
		f, _ := v.Float64() // the decoder checked the syntax; out of range is ±Inf
		return types.Double(f)
	case string:
		return types.String(v)
	case bool:
		return types.Bool(v)
	}
	return types.NullValue
}
