// Command seatbridge-load drives a running Seatbridge over HTTP the way an identity provider
// does and reports throughput, latency percentiles and errors per phase, as a table and as
// JSON. It talks only to the URL it is given (use loopback addresses on shared machines) and
// every loop is bounded by a count or a duration.
//
//	seatbridge-load scim --url http://127.0.0.1:8080/scim/v2/acme --token sbt_… \
//	    --users 10000 --groups 100 --concurrency 8 --steady 20s
//	seatbridge seed --tenant acme --users 1000000 && seatbridge-load lookup --url … --n 1000000
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(os.Args) < 2 || (os.Args[1] != "scim" && os.Args[1] != "saml" && os.Args[1] != "lookup") {
		fmt.Fprintln(os.Stderr, "usage: seatbridge-load scim|lookup|saml [flags]   (seatbridge-load scim -h for flags)")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "scim":
		err = runSCIM(ctx, os.Args[2:], os.Stdout)
	case "lookup":
		err = runLookup(ctx, os.Args[2:], os.Stdout)
	case "saml":
		err = runSAML(ctx, os.Args[2:], os.Stdout)
	}
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "seatbridge-load:", err)
		os.Exit(1)
	}
}

// recorder collects latencies and errors of one phase from many goroutines.
type recorder struct {
	name   string
	mu     sync.Mutex
	lat    []time.Duration
	errors atomic.Int64
	// firstErr keeps one example error for the report.
	firstErr atomic.Value
	start    time.Time
	end      time.Time
	// units counts what the phase's throughput is measured in (users, memberships, …)
	// when that differs from requests.
	units     atomic.Int64
	unitName  string
	peakRSSMB float64
}

func newRecorder(name, unit string) *recorder {
	return &recorder{name: name, unitName: unit, start: time.Now()}
}

func (r *recorder) observe(d time.Duration, err error) {
	if err != nil {
		if r.errors.Add(1) == 1 {
			r.firstErr.Store(err.Error())
		}
		return
	}
	r.mu.Lock()
	r.lat = append(r.lat, d)
	r.mu.Unlock()
}

func (r *recorder) finish() { r.end = time.Now() }

// Result is one phase's figures.
type Result struct {
	Phase       string  `json:"phase"`
	Requests    int     `json:"requests"`
	Errors      int64   `json:"errors"`
	FirstError  string  `json:"firstError,omitempty"`
	Seconds     float64 `json:"seconds"`
	PerSecond   float64 `json:"requestsPerSecond"`
	Units       int64   `json:"units,omitempty"`
	UnitName    string  `json:"unitName,omitempty"`
	UnitsPerSec float64 `json:"unitsPerSecond,omitempty"`
	P50ms       float64 `json:"p50ms"`
	P95ms       float64 `json:"p95ms"`
	P99ms       float64 `json:"p99ms"`
	MaxMs       float64 `json:"maxMs"`
	PeakRSSMB   float64 `json:"peakServerRssMB,omitempty"`
}

func (r *recorder) result() Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	sort.Slice(r.lat, func(i, j int) bool { return r.lat[i] < r.lat[j] })
	pct := func(p float64) float64 {
		if len(r.lat) == 0 {
			return 0
		}
		i := int(p * float64(len(r.lat)-1))
		return float64(r.lat[i].Microseconds()) / 1000
	}
	secs := r.end.Sub(r.start).Seconds()
	res := Result{Phase: r.name, Requests: len(r.lat) + int(r.errors.Load()), Errors: r.errors.Load(), Seconds: secs,
		P50ms: pct(.50), P95ms: pct(.95), P99ms: pct(.99), MaxMs: pct(1), UnitName: r.unitName, PeakRSSMB: r.peakRSSMB}
	if v := r.firstErr.Load(); v != nil {
		res.FirstError = v.(string)
	}
	if secs > 0 {
		res.PerSecond = float64(res.Requests) / secs
		if r.unitName != "" {
			res.Units = r.units.Load()
			res.UnitsPerSec = float64(res.Units) / secs
		}
	}
	return res
}

// parallel runs fn(i) for i in [0, n) on c workers, stopping early when ctx ends.
func parallel(ctx context.Context, n, c int, fn func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				fn(i)
			}
		}()
	}
	wg.Wait()
}

// report prints the results as a table and, when path is set, writes them as JSON.
func report(w io.Writer, results []Result, meta map[string]any, jsonPath string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "phase\trequests\terrors\tseconds\treq/s\tunits/s\tp50 ms\tp95 ms\tp99 ms\tmax ms\tpeak RSS MB\t")
	for _, r := range results {
		units := "-"
		if r.UnitName != "" {
			units = fmt.Sprintf("%.0f %s", r.UnitsPerSec, r.UnitName)
		}
		rss := "-"
		if r.PeakRSSMB > 0 {
			rss = fmt.Sprintf("%.1f", r.PeakRSSMB)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.2f\t%.0f\t%s\t%.2f\t%.2f\t%.2f\t%.2f\t%s\t\n",
			r.Phase, r.Requests, r.Errors, r.Seconds, r.PerSecond, units, r.P50ms, r.P95ms, r.P99ms, r.MaxMs, rss)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range results {
		if r.FirstError != "" {
			fmt.Fprintf(w, "%s: first error: %s\n", r.Phase, r.FirstError)
		}
	}
	out := map[string]any{"meta": meta, "results": results}
	if jsonPath == "" {
		return nil
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	if jsonPath == "-" {
		_, err = w.Write(append(b, '\n'))
		return err
	}
	return os.WriteFile(jsonPath, append(b, '\n'), 0o644)
}

// rssSampler follows the peak resident memory of a server through its /proc entry.
type rssSampler struct {
	pid  int
	peak atomic.Int64
	stop chan struct{}
	done chan struct{}
}

func startRSS(pid int) *rssSampler {
	s := &rssSampler{pid: pid, stop: make(chan struct{}), done: make(chan struct{})}
	if pid <= 0 {
		close(s.done)
		return s
	}
	go func() {
		defer close(s.done)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			if kb := readRSSKB(pid); kb > s.peak.Load() {
				s.peak.Store(kb)
			}
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// peakMB stops sampling and returns the highest RSS seen, in MB.
func (s *rssSampler) peakMB() float64 {
	if s.pid > 0 {
		close(s.stop)
	}
	<-s.done
	return float64(s.peak.Load()) / 1024
}

func readRSSKB(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kb int64
			fmt.Sscanf(strings.TrimSpace(rest), "%d", &kb)
			return kb
		}
	}
	return 0
}

func newHTTPClient(concurrency int) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = concurrency * 2
	tr.MaxIdleConnsPerHost = concurrency * 2
	tr.MaxConnsPerHost = concurrency * 2
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}
