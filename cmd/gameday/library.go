package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"text/template"
	"time"

	"github.com/spf13/cobra"

	"github.com/gameday/gameday/scenarios"
)

// completeScenarios completes a scenario argument: the bundled scenarios
// by name, and files.
func completeScenarios(_ *cobra.Command, _ []string, prefix string) ([]string, cobra.ShellCompDirective) {
	var out []string
	for _, n := range scenarios.BundledNames() {
		if strings.HasPrefix(n, prefix) {
			out = append(out, n)
		}
	}
	return out, cobra.ShellCompDirectiveDefault // and files
}

func newListCmd(st *state) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the bundled scenarios, one a line",
		Long: `List prints the scenarios bundled with gameday, one a line: the name to give "gameday run"
and what the game day proves (the first sentence of its description). Every one of them plays the
local reference backend and passes, but kube-pod-loss, which plays a Kubernetes cluster. A game day
that fails on purpose, to see what a failed one looks like, is examples/failing/single-api-replica.yaml
in gameday's source tree (docs/facilitator-guide.md reads its report).`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			for _, name := range scenarios.BundledNames() {
				s, err := scenarios.Open(name, scenarios.WithEnvironment(st.environment()))
				if err != nil {
					return fmt.Errorf("bundled scenario %s: %w", name, err)
				}
				fmt.Fprintf(tw, "%s\t%s\n", name, firstSentence(s.Description))
			}
			return tw.Flush()
		},
	}
}

// firstSentence is the text up to the first ". " (or all of it), on one
// line.
func firstSentence(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if i := strings.Index(s, ". "); i >= 0 {
		return s[:i+1]
	}
	return s
}

func newSchemaCmd(_ *state) *cobra.Command {
	var markdown bool
	cmd := &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema of the scenario format",
		Long: `Schema prints the JSON Schema (draft 2020-12) of scenario files, generated from gameday's own
types. Save it and point yaml-language-server at it for completion and checks in your editor:

    gameday schema > gameday.schema.json
    # yaml-language-server: $schema=./gameday.schema.json      (first line of a scenario)

gameday validate remains the authority: the schema cannot check cross-references such as link,
stream and fault names.`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			gen := scenarios.JSONSchema
			if markdown {
				gen = scenarios.Reference
			}
			b, err := gen()
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(b)
			return err
		},
	}
	cmd.Flags().BoolVar(&markdown, "markdown", false, "print the scenario reference in Markdown, generated from the schema")
	return cmd
}

// initOptions are the flags of gameday init.
type initOptions struct {
	name, baseURL, rate, duration, availability, p99 string
	routes                                           []string
	toxiproxy, proxy                                 string
	out                                              string
	force                                            bool
}

// initRoute is one route of an init scenario.
type initRoute struct{ Name, Method, Path string }

func newInitCmd(st *state) *cobra.Command {
	var o initOptions
	cmd := &cobra.Command{
		Use:   "init --url URL [flags]",
		Short: "Write a scenario for your own service",
		Long: `Init writes a first scenario for a service of your own, reached at --url: constant load on
the routes given, judged by an availability and a p99 latency SLO. With --toxiproxy and --proxy
(a proxy of yours in front of the service), it also adds 200ms of latency for the middle third
of the run. The scenario is checked before it is written; edit it from there (gameday schema
gives your editor the format).

    gameday init --url http://127.0.0.1:8080 --route "GET /health" --route "feed=GET /v1/feed" -o my.yaml`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			text, err := initScenario(o)
			if err != nil {
				return usageError{err}
			}
			file := o.out
			if file == "" || file == "-" {
				file = "init.yaml"
			}
			if _, err := scenarios.LoadBytes(file, text, scenarios.WithEnvironment(st.environment())); err != nil {
				return usageError{fmt.Errorf("the scenario init made is not valid (a bug; please report it): %w", err)}
			}
			if o.out == "" || o.out == "-" {
				_, err := cmd.OutOrStdout().Write(text)
				return err
			}
			flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
			if o.force {
				flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
			}
			f, err := os.OpenFile(o.out, flags, 0o644)
			if errors.Is(err, fs.ErrExist) {
				return usagef("%s exists; give --force to overwrite it", o.out)
			}
			if err != nil {
				return fmt.Errorf("write scenario: %w", err)
			}
			if _, err := f.Write(text); err != nil {
				_ = f.Close()
				return fmt.Errorf("write scenario %s: %w", o.out, err)
			}
			if err := f.Close(); err != nil {
				return fmt.Errorf("write scenario %s: %w", o.out, err)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s: run it with gameday run %s\n", o.out, o.out)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.baseURL, "url", "", "the base URL of your service (required)")
	fl.StringVar(&o.name, "name", "my-service", "the scenario's name")
	fl.StringArrayVar(&o.routes, "route", nil, `a route to load, "METHOD /path" or "name=METHOD /path" (repeat; default "GET /")`)
	fl.StringVar(&o.rate, "rate", "10/s", "the load's constant rate")
	fl.StringVar(&o.duration, "duration", "1m", "how long the load runs")
	fl.StringVar(&o.availability, "availability", "99%", "the availability objective (success ratio)")
	fl.StringVar(&o.p99, "p99", "500ms", "the p99 latency objective")
	fl.StringVar(&o.toxiproxy, "toxiproxy", "", "the API URL of your Toxiproxy, for a latency fault")
	fl.StringVar(&o.proxy, "proxy", "", "the name of your Toxiproxy proxy in front of the service (with --toxiproxy)")
	fl.StringVarP(&o.out, "output", "o", "", "the file to write (default: standard output)")
	fl.BoolVar(&o.force, "force", false, "overwrite the output file")
	return cmd
}

var initTemplate = template.Must(template.New("init").Parse(`# yaml-language-server: $schema=https://raw.githubusercontent.com/gameday/gameday/main/docs/scenario.schema.json
# Written by gameday init. Check it with: gameday validate {{.File}}
apiVersion: gameday/v1
kind: Scenario
name: {{.Name}}
description: >-
  Constant load on {{.Name}}{{if .Proxy}} with 200ms of latency added in the middle third{{end}};
  availability and p99 latency must hold.
target:
  external:
    baseURL: {{printf "%q" .BaseURL}}
{{- if .Proxy}}
    toxiproxy:
      url: {{printf "%q" .Toxiproxy}}
      links:
        - {name: service, proxy: {{printf "%q" .Proxy}}}
{{- end}}
load:
  - name: users
    duration: {{.Duration}}
    profile: {constant: {rate: {{.Rate}}}}
    timeout: 5s
    requests:
{{- range .Routes}}
      - {name: {{printf "%q" .Name}}, method: {{.Method}}, url: {{printf "%q" (print "{{.Base}}" .Path)}}}
{{- end}}
{{- if .Proxy}}
faults:
  - {name: slow-service, at: {{.FaultAt}}, for: {{.FaultFor}}, network: {link: service, toxic: latency, latency: 200ms}}
{{- end}}
checks:
  slos:
    - {name: availability, client: {sli: success_ratio}, objective: {{printf "%q" (print ">= " .Availability)}}}
    - {name: p99, client: {sli: latency, quantile: 0.99}, objective: {{printf "%q" (print "<= " .P99)}}}
`))

// initScenario renders the scenario of o, checking the flags as it goes.
func initScenario(o initOptions) ([]byte, error) {
	var errs []error
	u, err := url.Parse(o.baseURL)
	switch {
	case o.baseURL == "":
		errs = append(errs, errors.New("--url is required: the base URL of your service"))
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		errs = append(errs, fmt.Errorf("--url %q: want an http(s) URL such as http://127.0.0.1:8080", o.baseURL))
	}
	if (o.toxiproxy == "") != (o.proxy == "") {
		errs = append(errs, errors.New("--toxiproxy and --proxy go together: the API URL of your Toxiproxy and the name of its proxy in front of the service"))
	}
	du, err := time.ParseDuration(o.duration)
	if err != nil || du <= 0 {
		errs = append(errs, fmt.Errorf("--duration %q: want a positive duration such as 1m", o.duration))
	}
	if _, err := scenarios.ParseRate(o.rate); err != nil {
		errs = append(errs, fmt.Errorf("--rate: %w", err))
	}
	routes := o.routes
	if len(routes) == 0 {
		routes = []string{"GET /"}
	}
	var rs []initRoute
	seen := map[string]bool{}
	for _, r := range routes {
		name, spec, named := strings.Cut(r, "=")
		if !named {
			spec = r
		}
		method, path, ok := strings.Cut(strings.TrimSpace(spec), " ")
		path = strings.TrimSpace(path)
		if !ok || !strings.HasPrefix(path, "/") || method == "" || strings.ToUpper(method) != method {
			errs = append(errs, fmt.Errorf(`--route %q: want "METHOD /path" or "name=METHOD /path", such as "GET /v1/feed"`, r))
			continue
		}
		if !named {
			name = routeName(path)
		}
		if seen[name] {
			errs = append(errs, fmt.Errorf("--route %q: a second route named %q; name it: \"other=%s\"", r, name, spec))
			continue
		}
		seen[name] = true
		rs = append(rs, initRoute{Name: name, Method: method, Path: path})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	var b bytes.Buffer
	err = initTemplate.Execute(&b, map[string]any{
		"File": cmpOr(o.out, "FILE"), "Name": o.name, "BaseURL": strings.TrimSuffix(o.baseURL, "/"),
		"Toxiproxy": o.toxiproxy, "Proxy": o.proxy, "Duration": o.duration, "Rate": o.rate,
		"Routes": rs, "FaultAt": (du / 3).String(), "FaultFor": (du / 3).String(),
		"Availability": o.availability, "P99": o.p99,
	})
	if err != nil {
		return nil, fmt.Errorf("render scenario: %w", err)
	}
	return b.Bytes(), nil
}

// routeName names a route by its path: "/v1/feed" is "v1-feed", "/" is
// "root".
func routeName(path string) string {
	path, _, _ = strings.Cut(path, "?")
	n := strings.Trim(strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '-'
	}, path), "-")
	if n == "" {
		return "root"
	}
	return n
}

func cmpOr(s, def string) string {
	if s == "" || s == "-" {
		return def
	}
	return s
}
