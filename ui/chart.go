package ui

import (
	"fmt"
	"math"
	"time"

	"github.com/hookbridge/hookbridge"
)

// chartRange is one choice of the deliveries chart: how far back, in
// buckets of what width.
type chartRange struct {
	Key     string
	Label   string
	Width   time.Duration
	Buckets int
}

// chartRanges are the dashboard's choices; the first is the default.
var chartRanges = []chartRange{
	{Key: "24h", Label: "Last 24 hours", Width: time.Hour, Buckets: 24},
	{Key: "1h", Label: "Last hour", Width: time.Minute, Buckets: 60},
	{Key: "7d", Label: "Last 7 days", Width: 6 * time.Hour, Buckets: 28},
}

func findRange(key string) chartRange {
	for _, c := range chartRanges {
		if c.Key == key {
			return c
		}
	}
	return chartRanges[0]
}

// window returns the range's first instant and its end at now: buckets are
// aligned to whole widths (whole hours, minutes), the last one holding now.
func (c chartRange) window(now time.Time) (since, until time.Time) {
	until = now.UTC().Truncate(c.Width).Add(c.Width)
	return until.Add(-time.Duration(c.Buckets) * c.Width), until
}

// Chart geometry, in SVG user units (the SVG scales to its box).
const (
	chartW      = 720
	chartH      = 220
	chartLeft   = 48 // room for the y-axis labels
	chartRight  = 8
	chartTop    = 12
	chartBottom = 28 // room for the x-axis labels
)

// chart is a stacked bar chart of attempts per bucket, laid out on the
// server so that the page needs no script to draw it.
type chart struct {
	Title         string
	Bars          []chartBar
	YTicks        []chartTick
	XTicks        []chartTick
	Success, Fail int64 // totals over the range
	W, H          int
	PlotLeft      float64
	PlotRight     float64
	PlotBottom    float64
}

// chartBar is one bucket: success stacked under failure.
type chartBar struct {
	X, W                 float64
	SuccessY, SuccessH   float64
	FailY, FailH         float64
	Label                string // the bucket's time span, for its tooltip and the table
	Success, Fail        int64
	HasSuccess, HasFails bool
}

// chartTick is an axis label at a position.
type chartTick struct {
	Pos   float64
	Label string
}

// buildChart lays out counts (non-empty buckets, as the store returns them)
// over every bucket of the range starting at since.
func buildChart(title string, counts []hookbridge.AttemptCount, since time.Time, r chartRange) chart {
	c := chart{Title: title, W: chartW, H: chartH, PlotLeft: chartLeft, PlotRight: chartW - chartRight, PlotBottom: chartH - chartBottom}
	per := make([]hookbridge.AttemptCount, r.Buckets)
	for _, n := range counts {
		i := int(n.Start.Sub(since) / r.Width)
		if i >= 0 && i < r.Buckets {
			per[i].Success += n.Success
			per[i].Fail += n.Fail
		}
	}
	var peak int64
	for _, n := range per {
		c.Success += n.Success
		c.Fail += n.Fail
		peak = max(peak, n.Success+n.Fail)
	}
	top := niceCeil(peak)
	plotH := float64(chartH - chartTop - chartBottom)
	slot := float64(chartW-chartLeft-chartRight) / float64(r.Buckets)
	barW := math.Max(slot*0.72, 1)
	scale := plotH / float64(top)
	for i, n := range per {
		start := since.Add(time.Duration(i) * r.Width)
		b := chartBar{
			X:       round1(chartLeft + float64(i)*slot + (slot-barW)/2),
			W:       round1(barW),
			Label:   bucketLabel(start, r.Width),
			Success: n.Success, Fail: n.Fail,
			HasSuccess: n.Success > 0, HasFails: n.Fail > 0,
		}
		base := c.PlotBottom
		b.SuccessH = round1(float64(n.Success) * scale)
		b.SuccessY = round1(base - b.SuccessH)
		b.FailH = round1(float64(n.Fail) * scale)
		b.FailY = round1(b.SuccessY - b.FailH)
		c.Bars = append(c.Bars, b)
		if i%xTickEvery(r) == 0 {
			c.XTicks = append(c.XTicks, chartTick{Pos: round1(chartLeft + float64(i)*slot + slot/2), Label: tickLabel(start, r.Width)})
		}
	}
	for _, v := range []int64{0, top / 2, top} {
		c.YTicks = append(c.YTicks, chartTick{Pos: round1(c.PlotBottom - float64(v)*scale), Label: groupDigits(v)})
	}
	return c
}

// xTickEvery spaces the x-axis labels to about six across.
func xTickEvery(r chartRange) int { return max(r.Buckets/6, 1) }

// niceCeil rounds n up to 1, 2 or 5 times a power of ten (at least 2, so
// the middle tick is a whole number).
func niceCeil(n int64) int64 {
	if n <= 2 {
		return 2
	}
	p := int64(1)
	for p*10 <= n {
		p *= 10
	}
	for _, m := range []int64{1, 2, 5, 10} {
		if m*p >= n {
			return m * p
		}
	}
	return 10 * p
}

func round1(f float64) float64 { return math.Round(f*10) / 10 }

func tickLabel(t time.Time, width time.Duration) string {
	if width >= 6*time.Hour {
		return t.UTC().Format("Jan 2 15h")
	}
	return t.UTC().Format("15:04")
}

func bucketLabel(t time.Time, width time.Duration) string {
	end := t.Add(width)
	if width >= 6*time.Hour {
		return fmt.Sprintf("%s – %s UTC", t.UTC().Format("Jan 2 15:04"), end.UTC().Format("Jan 2 15:04"))
	}
	return fmt.Sprintf("%s – %s UTC", t.UTC().Format("15:04"), end.UTC().Format("15:04"))
}
