package scenarios

import (
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"strings"
	"text/template"
	"time"
)

// envName is the shape of an environment variable name.
var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// maxRetries bounds HTTPRequest.Retries.
const maxRetries = 10

// faults checks every fault against the target's declaration.
func (v *validator) faults(decl Declaration) {
	end := v.s.End()
	seen := map[string]string{}
	for i, f := range v.s.Faults {
		p := fmt.Sprintf("faults[%d]", i)
		v.name(p+".name", f.Name, labelName, "letters, digits, '_', '.' and '-', starting with a letter or digit", seen)
		switch {
		case f.At < 0:
			v.add(p+".at", "at %s is negative (want 0 or more)", formatDuration(f.At))
		case v.tooLong(p+".at", "at", f.At):
		case f.At >= end:
			v.add(p+".at", "at %s is not before the end of the load (%s)", formatDuration(f.At), formatDuration(end))
		}
		if f.For < 0 {
			v.add(p+".for", "for %s is negative (want 0 or more)", formatDuration(f.For))
		}
		v.tooLong(p+".for", "for", f.For)
		var kinds []string
		for _, k := range []struct {
			name string
			set  bool
		}{{"network", f.Network != nil}, {"process", f.Process != nil}, {"http", f.HTTP != nil}, {"exec", f.Exec != nil}, {"pod", f.Pod != nil}} {
			if k.set {
				kinds = append(kinds, k.name)
			}
		}
		if len(kinds) != 1 {
			v.add(p, "exactly one of network, process, http, exec, pod is required, got %s", gotKinds(kinds))
		}
		if f.Network != nil {
			v.network(p+".network", *f.Network, decl)
		}
		if f.Process != nil {
			v.process(p+".process", f, decl)
		}
		if f.Pod != nil {
			v.pod(p+".pod", f)
		}
		if f.HTTP != nil {
			v.httpRequest(p+".http", f.HTTP.Request(), decl)
			if f.HTTP.Recover != nil {
				v.httpRequest(p+".http.recover", f.HTTP.Recover, decl)
			}
		}
		if f.Exec != nil {
			v.execCommand(p+".exec", f.Exec.Inject(), decl)
			if f.Exec.Recover != nil {
				v.execCommand(p+".exec.recover", f.Exec.Recover, decl)
			}
		}
		if f.Repeat != nil {
			v.repeat(p, f, end)
		}
	}
	v.overlaps(decl)
}

// EndsByItself reports whether a fault without For ends by itself (a kill
// once its victims are back, a pod deletion once the pods' owners are fully
// ready again, an action without a recover step) rather than
// staying until the load ends.
func (f Fault) EndsByItself() bool {
	switch {
	case f.Process != nil:
		return f.Process.Signal != SignalStop
	case f.Pod != nil:
		return true
	case f.HTTP != nil:
		return f.HTTP.Recover == nil
	case f.Exec != nil:
		return f.Exec.Recover == nil
	}
	return false
}

// Windows returns when the fault is planned to be active, as offsets from
// the start of the run: one window per injection, each ending at For, or
// at end (the end of the load) when the fault has no For; a fault that
// ends by itself is given a zero-length window.
func (f Fault) Windows(end time.Duration) [][2]time.Duration {
	n, every := 1, time.Duration(0)
	if f.Repeat != nil && f.Repeat.Count > 1 {
		n, every = f.Repeat.Count, f.Repeat.Every
	}
	var out [][2]time.Duration
	for i := range n {
		start := addDurations(f.At, mulDuration(i, every))
		stop := end
		switch {
		case f.For > 0:
			stop = addDurations(start, f.For)
		case f.EndsByItself():
			stop = start
		}
		out = append(out, [2]time.Duration{start, stop})
	}
	return out
}

// timed reports whether the fault's timing is in range (at, for and the
// repeat within their bounds), so that its windows can be computed.
func (f Fault) timed() bool {
	inRange := func(d time.Duration) bool { return d >= 0 && d <= MaxDuration }
	if !inRange(f.At) || !inRange(f.For) {
		return false
	}
	r := f.Repeat
	return r == nil || (r.Count <= MaxRepeatCount && r.Every > 0 && r.Every <= MaxDuration)
}

func (v *validator) repeat(p string, f Fault, end time.Duration) {
	r := f.Repeat
	if r.Count < 2 {
		v.add(p+".repeat.count", "count %d is less than 2 (a fault without repeat is injected once)", r.Count)
	} else if r.Count > MaxRepeatCount {
		v.add(p+".repeat.count", "count %d is too many (want at most %d)", r.Count, MaxRepeatCount)
	}
	if r.Every <= 0 {
		v.add(p+".repeat.every", "every %s is not positive (want more than 0s)", formatDuration(r.Every))
		return
	}
	if v.tooLong(p+".repeat.every", "every", r.Every) {
		return
	}
	switch {
	case f.For > 0 && r.Every <= f.For:
		v.add(p+".repeat.every", "every %s is not longer than for %s: each injection must have ended before the next", formatDuration(r.Every), formatDuration(f.For))
	case f.For == 0 && !f.EndsByItself():
		v.add(p+".repeat", "a repeated fault needs for: without it the fault stays until the load ends")
	}
	if r.Count >= 2 && r.Count <= MaxRepeatCount && f.At >= 0 && f.At <= MaxDuration {
		// Overflow-safe: (count-1) × every compared with what is left.
		if left := end - f.At; left <= 0 || int64(r.Count-1) > int64(left/r.Every) || time.Duration(r.Count-1)*r.Every >= left {
			v.add(p+".repeat", "the last of %d injections every %s from %s starts after the end of the load (%s)", r.Count, formatDuration(r.Every), formatDuration(f.At), formatDuration(end))
		}
	}
}

// toxicDuration checks a duration of a toxic in Toxiproxy's unit (a
// millisecond or a microsecond): positive when the toxic named by required
// needs it, else 0 or more, and a whole number of units.
func (v *validator) toxicDuration(p, key string, d time.Duration, required ToxicType, unit time.Duration) {
	names := map[time.Duration]string{time.Millisecond: "milliseconds", time.Microsecond: "microseconds"}
	switch {
	case required != "" && d <= 0:
		v.add(p+"."+key, "%s %s is not positive (want at least 1ms for toxic %s)", key, formatDuration(d), required)
	case d < 0:
		v.add(p+"."+key, "%s %s is negative (want 0 or more)", key, formatDuration(d))
	default:
		v.wholeUnit(p+"."+key, key, d, unit, names[unit])
	}
}

// wholeUnit reports a duration that Toxiproxy cannot represent.
func (v *validator) wholeUnit(path, key string, d, unit time.Duration, unitName string) {
	if d%unit != 0 {
		v.add(path, "%s %s is not a whole number of %s (Toxiproxy counts %s)", key, formatDuration(d), unitName, unitName)
	}
}

func (v *validator) network(p string, n NetworkFault, decl Declaration) {
	switch {
	case v.noTarget:
	case len(decl.Links) == 0:
		v.add(p+".link", "unknown link %q: the target has no links", n.Link)
	case !slices.Contains(decl.Links, n.Link):
		v.add(p+".link", "unknown link %q (want one of %s)", n.Link, strings.Join(decl.Links, ", "))
	}
	// set lists the toxic settings written, by key, for "applies only to".
	set := []struct {
		key    string
		set    bool
		toxics []ToxicType
	}{
		{"latency", n.Latency != 0, []ToxicType{ToxicLatency}},
		{"jitter", n.Jitter != 0, []ToxicType{ToxicLatency}},
		{"timeout", n.Timeout != 0, []ToxicType{ToxicTimeout, ToxicResetPeer}},
		{"rateKBps", n.RateKBps != 0, []ToxicType{ToxicBandwidth}},
		{"delay", n.Delay != 0, []ToxicType{ToxicSlowClose, ToxicSlicer}},
		{"averageSize", n.AverageSize != 0, []ToxicType{ToxicSlicer}},
		{"sizeVariation", n.SizeVariation != 0, []ToxicType{ToxicSlicer}},
		{"bytes", n.Bytes != 0, []ToxicType{ToxicLimitData}},
		{"direction", n.Direction != "", nil},
		{"toxicity", n.Toxicity != nil, nil},
	}
	if n.Mobile != "" {
		if n.Toxic != "" {
			v.add(p, "exactly one of toxic, mobile is required, got both")
		}
		oneOf(v, p+".mobile", "mobile preset", n.Mobile, presets)
		for _, s := range set {
			if s.set {
				v.add(p+"."+s.key, "%s does not apply to a mobile preset (it sets its own toxics)", s.key)
			}
		}
		return
	}
	if n.Toxic == "" {
		v.add(p+".toxic", "required (want one of %s; or mobile: one of %s)", list(toxicTypes), list(presets))
		return
	}
	oneOf(v, p+".toxic", "toxic", n.Toxic, toxicTypes)
	if !slices.Contains(toxicTypes, n.Toxic) {
		if n.Direction != "" {
			oneOf(v, p+".direction", "direction", n.Direction, directions)
		}
		return
	}
	for _, s := range set {
		if !s.set {
			continue
		}
		if s.toxics == nil { // direction, toxicity: every toxic but down
			if n.Toxic == ToxicDown {
				v.add(p+"."+s.key, "%s does not apply to toxic down (the link is cut)", s.key)
			}
			continue
		}
		if !slices.Contains(s.toxics, n.Toxic) {
			v.add(p+"."+s.key, "%s applies only to toxic %s, not %s", s.key, list(s.toxics), n.Toxic)
		}
	}
	for _, d := range []struct {
		key string
		d   time.Duration
	}{{"latency", n.Latency}, {"jitter", n.Jitter}, {"timeout", n.Timeout}, {"delay", n.Delay}} {
		v.tooLong(p+"."+d.key, d.key, d.d)
	}
	switch n.Toxic {
	case ToxicLatency:
		v.toxicDuration(p, "latency", n.Latency, ToxicLatency, time.Millisecond)
		v.toxicDuration(p, "jitter", n.Jitter, "", time.Millisecond)
	case ToxicBandwidth:
		if n.RateKBps <= 0 {
			v.add(p+".rateKBps", "rateKBps %d is not positive (want more than 0 for toxic bandwidth)", n.RateKBps)
		}
	case ToxicSlowClose:
		v.toxicDuration(p, "delay", n.Delay, ToxicSlowClose, time.Millisecond)
	case ToxicTimeout, ToxicResetPeer:
		v.toxicDuration(p, "timeout", n.Timeout, "", time.Millisecond)
	case ToxicSlicer:
		if n.AverageSize <= 0 {
			v.add(p+".averageSize", "averageSize %d is not positive (want the bytes of a slice, such as 64)", n.AverageSize)
		}
		if n.SizeVariation < 0 || (n.AverageSize > 0 && n.SizeVariation >= n.AverageSize) {
			v.add(p+".sizeVariation", "sizeVariation %d is out of range (want 0 to averageSize-1)", n.SizeVariation)
		}
		v.toxicDuration(p, "delay", n.Delay, "", time.Microsecond)
	case ToxicLimitData:
		if n.Bytes <= 0 {
			v.add(p+".bytes", "bytes %d is not positive (want the bytes after which the connection closes)", n.Bytes)
		}
	}
	if n.Toxic != ToxicDown {
		oneOf(v, p+".direction", "direction", n.Direction, directions)
		if t := n.Toxicity; t != nil && !(*t >= 0 && *t <= 1) {
			v.add(p+".toxicity", "toxicity %g is out of range (want 0 to 1)", *t)
		}
	}
}

func (v *validator) process(p string, f Fault, decl Declaration) {
	pf := f.Process
	keys := decl.LabelKeys()
	switch {
	case v.noTarget:
	case len(decl.Instances) == 0:
		v.add(p, "the target has no processes to signal")
	case len(pf.Selector) == 0:
		v.add(p+".selector", "an empty selector is not allowed (want labels among %s)", strings.Join(keys, ", "))
	}
	known := len(decl.Instances) > 0 && !v.noTarget
	for _, k := range sortedKeys(pf.Selector) {
		if known && !slices.Contains(keys, k) {
			v.add(p+".selector."+k, "unknown label %q (want one of %s)", k, strings.Join(keys, ", "))
			known = false
		}
	}
	if known && len(pf.Selector) > 0 {
		matched := false
		var all []string
		for _, in := range decl.Instances {
			matched = matched || in.Matches(pf.Selector)
			labels := map[string]string{}
			for k, val := range in.Labels {
				labels[k] = val
			}
			delete(labels, "instance")
			if len(labels) > 1 {
				delete(labels, "service") // shown as role on the local target
			}
			all = append(all, in.Name+" "+formatSelector(labels))
		}
		if !matched {
			v.add(p+".selector", "selector %s matches no process (processes: %s)", formatSelector(pf.Selector), strings.Join(all, ", "))
		}
	}
	oneOf(v, p+".signal", "signal", pf.Signal, signals)
	v.victims(p, "processes", pf.Mode, pf.Count, pf.Percent)
	if pf.Signal == SignalStop && f.For <= 0 {
		v.add(p+".signal", "signal STOP requires the fault's for: a stopped process stays paused until the fault ends")
	}
}

// victims checks how a process or pod fault at p chooses its victims among
// the selected things (what names them, for messages): mode, and the count
// or percent that only its mode takes.
func (v *validator) victims(p, what string, mode VictimMode, count int, percent float64) {
	oneOf(v, p+".mode", "mode", mode, victims)
	switch {
	case mode == ModeFixed && count < 1:
		v.add(p+".count", "count %d is less than 1 (mode fixed hits count %s)", count, what)
	case mode != ModeFixed && count != 0:
		v.add(p+".count", "count applies only to mode fixed, not %s", mode)
	}
	switch {
	case mode == ModePercent && !(percent > 0 && percent <= 100):
		v.add(p+".percent", "percent %g is out of range (want more than 0, at most 100)", percent)
	case mode != ModePercent && percent != 0:
		v.add(p+".percent", "percent applies only to mode percent, not %s", mode)
	}
}

// httpRequest checks a request of an http action fault.
func (v *validator) httpRequest(p string, r *HTTPRequest, decl Declaration) {
	v.httpParts(p, r.Method, r.URL, r.Body, r.Header, decl, "required (such as '{{.URL \"admin\"}}/failover')", "")
	for j, code := range r.Expect {
		if code < 100 || code > 599 {
			v.add(fmt.Sprintf("%s.expect[%d]", p, j), "status %d is not an HTTP status (want 100 to 599)", code)
		}
	}
	if r.Timeout <= 0 {
		v.add(p+".timeout", "timeout %s is not positive (want more than 0s)", formatDuration(r.Timeout))
	}
	v.tooLong(p+".timeout", "timeout", r.Timeout)
	if r.Retries < 0 || r.Retries > maxRetries {
		v.add(p+".retries", "retries %d is out of range (want 0 to %d)", r.Retries, maxRetries)
	}
}

// execCommand checks a command of an exec action fault.
func (v *validator) execCommand(p string, c *ExecCommand, decl Declaration) {
	if len(c.Command) == 0 || strings.TrimSpace(c.Command[0]) == "" {
		v.add(p+".command", "required: the executable and its arguments, such as [./restore.sh, --latest]")
	}
	for i, a := range c.Command {
		if err := v.execTemplate(a, decl); err != nil {
			v.add(fmt.Sprintf("%s.command[%d]", p, i), "invalid template %q: %v", a, err)
		}
	}
	for _, k := range sortedKeys(c.Env) {
		if !envName.MatchString(k) {
			v.add(p+".env."+k, "invalid environment variable name %q", k)
		}
		v.expand(p+".env."+k, c.Env[k])
	}
	if c.Timeout <= 0 {
		v.add(p+".timeout", "timeout %s is not positive (want more than 0s)", formatDuration(c.Timeout))
	}
	v.tooLong(p+".timeout", "timeout", c.Timeout)
}

// execTemplate parses an element of an exec command and, when the target
// and the env and file values it needs are known, executes it once with
// sample ExecData: the URLs decl declares and, on a local target, the
// folder of each instance and "shared".
func (v *validator) execTemplate(text string, decl Declaration) error {
	if !strings.Contains(text, "{{") {
		return nil
	}
	refs, err := templateReferences(text)
	if err != nil {
		return err
	}
	funcs := placeholderFuncs
	if v.vals != nil && v.vals.has(refs) {
		funcs = maps.Clone(placeholderFuncs)
		maps.Copy(funcs, v.vals.Funcs())
	}
	t, err := template.New("command").Option("missingkey=error").Funcs(funcs).Parse(text)
	if err != nil || v.noTarget || (len(refs) > 0 && (v.vals == nil || !v.vals.has(refs))) {
		return err
	}
	urls, dirs := map[string]string{}, map[string]string{}
	for _, u := range decl.URLs {
		urls[u] = "http://127.0.0.1:8081"
	}
	if v.s.Target.Local != nil {
		dirs[LocalSharedDir] = "/tmp/target"
		for _, in := range decl.Instances {
			dirs[in.Name] = "/tmp/target/" + in.Name
		}
	}
	if err := t.Execute(&limitedWriter{w: io.Discard, n: 1 << 16}, NewExecData("http://127.0.0.1:8080", "token", urls, dirs)); err != nil {
		return fmt.Errorf("%w (fields: .Base, .Token, .URL \"name\", .Dir \"name\")", err)
	}
	return nil
}

// overlaps refuses faults that cannot be active together: two down faults
// on one link (the first to recover would bring the link back while the
// other still holds it down), and two pauses (STOP) that may select the
// same process (the first to end would resume it).
func (v *validator) overlaps(decl Declaration) {
	end := v.s.End()
	type held struct {
		path string
		w    [2]time.Duration
	}
	downs := map[string][]held{}
	for i, f := range v.s.Faults {
		if f.Network == nil || f.Network.Toxic != ToxicDown || !f.timed() {
			continue
		}
		p := fmt.Sprintf("faults[%d]", i)
		for _, w := range f.Windows(end) {
			for _, h := range downs[f.Network.Link] {
				if w[0] < h.w[1] && h.w[0] < w[1] {
					v.add(p, "down on link %q while %s holds it down too (from %s to %s): one down fault per link at a time", f.Network.Link, h.path, formatDuration(h.w[0]), formatDuration(h.w[1]))
					break
				}
			}
			downs[f.Network.Link] = append(downs[f.Network.Link], held{p, w})
		}
	}
	paused := map[string][]held{} // by instance
	for i, f := range v.s.Faults {
		if f.Process == nil || f.Process.Signal != SignalStop || f.For <= 0 || !f.timed() {
			continue
		}
		p := fmt.Sprintf("faults[%d]", i)
		reported := false
		for _, in := range decl.Instances {
			if len(f.Process.Selector) == 0 || !in.Matches(f.Process.Selector) {
				continue
			}
			for _, w := range f.Windows(end) {
				for _, h := range paused[in.Name] {
					if !reported && w[0] < h.w[1] && h.w[0] < w[1] {
						v.add(p, "pauses %s while %s may hold it paused too (from %s to %s): the first to end would resume it", in.Name, h.path, formatDuration(h.w[0]), formatDuration(h.w[1]))
						reported = true
					}
				}
				paused[in.Name] = append(paused[in.Name], held{p, w})
			}
		}
	}
}
