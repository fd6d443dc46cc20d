// Package chart draws small time-series line charts (ntcharts) for the
// scaling and metrics panels.
package chart

import (
	"math"
	"strconv"
	"time"

	"charm.land/lipgloss/v2"
	"github.com/NimbleMarkets/ntcharts/v2/linechart/timeserieslinechart"
)

// Series is one named line with its style.
type Series struct {
	Name   string
	Style  lipgloss.Style
	Times  []time.Time
	Values []float64
}

// Render draws the series into a w×h block, with the Y axis from 0 to a
// little above the largest value. It returns "" when the block is too small
// or there is nothing to draw.
func Render(w, h int, axis lipgloss.Style, series ...Series) string {
	if w < 12 || h < 3 {
		return ""
	}
	var tmin, tmax time.Time
	ymax := 0.0
	any := false
	for _, s := range series {
		for i, t := range s.Times {
			if tmin.IsZero() || t.Before(tmin) {
				tmin = t
			}
			if t.After(tmax) {
				tmax = t
			}
			ymax = math.Max(ymax, s.Values[i])
			any = true
		}
	}
	if !any {
		return ""
	}
	if !tmax.After(tmin) {
		tmax = tmin.Add(time.Second)
	}
	// The top label sits one row below the range's top, at ymax·(h-1)/h:
	// stretch the range so that label reads a round number.
	ymax = niceCeil(ymax*1.1) * float64(h) / float64(h-1)
	c := timeserieslinechart.New(w, h,
		timeserieslinechart.WithTimeRange(tmin, tmax),
		timeserieslinechart.WithYRange(0, ymax),
		timeserieslinechart.WithXYSteps(0, max(h-1, 1)),
		timeserieslinechart.WithAxesStyles(axis, axis),
		timeserieslinechart.WithYLabelFormatter(func(_ int, v float64) string {
			return strconv.FormatFloat(v, 'g', 3, 64)
		}),
	)
	c.AutoMaxY, c.AutoMinY, c.AutoMaxX, c.AutoMinX = false, false, false, false
	names := make([]string, 0, len(series))
	for _, s := range series {
		c.SetDataSetStyle(s.Name, s.Style)
		for i, t := range s.Times {
			c.PushDataSet(s.Name, timeserieslinechart.TimePoint{Time: t, Value: s.Values[i]})
		}
		names = append(names, s.Name)
	}
	c.DrawBrailleDataSets(names)
	return c.View()
}

// niceCeil rounds up to 1, 2 or 5 times a power of ten so axis labels stay short.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}
