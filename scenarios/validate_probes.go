package scenarios

import "fmt"

// MaxProbeInFlight is the largest WriteProbe.MaxInFlight Validate accepts.
const MaxProbeInFlight = 1000

// probes checks the write probes. A probe that no RPO check reads is
// allowed: its record is in the run directory all the same.
func (v *validator) probes(decl Declaration) {
	seen := map[string]string{}
	for i, w := range v.s.Probes.Writes {
		p := fmt.Sprintf("probes.writes[%d]", i)
		v.name(p+".name", w.Name, scenarioName, "lower-case letters, digits and '-', starting with a letter or digit", seen)
		v.httpParts(p+".write", w.Write.Method, w.Write.URL, w.Write.Body, w.Write.Header, decl, "required", "; start it with {{.Base}}")
		v.httpParts(p+".read", w.Read.Method, w.Read.URL, w.Read.Body, w.Read.Header, decl, "required (such as \"{{.Base}}/v1/posts/{{.ID}}\")", "; start it with {{.Base}}")
		if w.Every <= 0 {
			v.add(p+".every", "every %s is not positive (want more than 0s)", formatDuration(w.Every))
		}
		v.tooLong(p+".every", "every", w.Every)
		if w.Timeout <= 0 {
			v.add(p+".timeout", "timeout %s is not positive (want more than 0s)", formatDuration(w.Timeout))
		}
		v.tooLong(p+".timeout", "timeout", w.Timeout)
		if w.Settle < 0 {
			v.add(p+".settle", "settle %s is negative (want 0 or more)", formatDuration(w.Settle))
		}
		v.tooLong(p+".settle", "settle", w.Settle)
		if w.MaxInFlight < 1 || w.MaxInFlight > MaxProbeInFlight {
			v.add(p+".maxInFlight", "maxInFlight %d is out of range (want 1 to %d)", w.MaxInFlight, MaxProbeInFlight)
		}
		for _, l := range []struct {
			key   string
			codes []int
		}{{"acked", w.Acked}, {"found", w.Found}, {"notFound", w.NotFound}} {
			for j, code := range l.codes {
				if code < 100 || code > 599 {
					v.add(fmt.Sprintf("%s.%s[%d]", p, l.key, j), "status %d is not an HTTP status (want 100 to 599)", code)
				}
			}
		}
	}
}
