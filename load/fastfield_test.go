package load

import (
	"bytes"
	"testing"
)

// TestFastFieldsRenderAsTextTemplate renders templates of the fast shape
// both ways, with and without a user, and wants the same bytes or the same
// error; templates of any other shape take text/template's path.
func TestFastFieldsRenderAsTextTemplate(t *testing.T) {
	fast := []string{
		"/v1/feed?id={{.ID}}", "{{.Seq}}", `{"text":"post {{.Seq}}","by":"{{.User.Name}}"}`,
		"Bearer {{.User.Token}}", "{{.Base}}/x/{{.RunID}}/{{.Token}}/{{.User.Index}}", "{{ .ID }}{{- .Seq -}} x",
		"{{/* a comment */}}{{.ID}}",
	}
	slow := []string{"{{.Row.email}}", "{{randInt 1 5}}", `{{.ID | printf "%s!"}}`, "{{if .User}}u{{end}}", `{{.URL "admin"}}`, "{{$x := .ID}}{{$x}}", "{{.User}}"}
	users := []*User{nil, {Index: 7, Name: "s-7", Token: "tok<&>"}}
	for _, text := range append(fast, slow...) {
		f, err := newField("f", text, builtinFuncs())
		if err != nil {
			t.Fatalf("newField(%q): %v", text, err)
		}
		wantFast := false
		for _, ft := range fast {
			wantFast = wantFast || ft == text
		}
		if (f.parts != nil) != wantFast {
			t.Errorf("newField(%q): fast path = %v, want %v", text, f.parts != nil, wantFast)
		}
		for _, u := range users {
			d := &Data{Base: "http://127.0.0.1:1", Seq: 18446744073709551615, ID: "abc-12", Token: "T", RunID: "r1", User: u,
				Row: map[string]string{"email": "e@x"}, urls: map[string]string{"admin": "http://a"}}
			var want, got bytes.Buffer
			wantErr := f.tmpl.Execute(&want, d)
			gotErr := f.execute(&got, d)
			if (wantErr == nil) != (gotErr == nil) || want.String() != got.String() {
				t.Errorf("%q with user %v: got %q, %v; text/template %q, %v", text, u, got.String(), gotErr, want.String(), wantErr)
			}
		}
	}
}

// BenchmarkRenderTemplated renders the peers benchmark's templated POST.
func BenchmarkRenderTemplated(b *testing.B) {
	f, err := newField("body", `{"text":"post {{.Seq}}","id":"{{.ID}}"}`, builtinFuncs())
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	d := &Data{Seq: 12345, ID: "abcdef-12345"}
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if err := f.execute(&buf, d); err != nil {
			b.Fatal(err)
		}
	}
}
