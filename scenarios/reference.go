package scenarios

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Reference returns the scenario reference in Markdown, generated from
// JSONSchema: one section per object of the format, from the scenario
// down, each a table of its keys with their type, whether they are
// required, and what they mean. docs/scenario-reference.md is its output
// (`gameday schema --markdown`), kept in sync by a test.
func Reference() ([]byte, error) {
	raw, err := JSONSchema()
	if err != nil {
		return nil, err
	}
	var doc struct {
		Ref  string                    `json:"$ref"`
		Defs map[string]map[string]any `json:"$defs"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("scenario reference: %w", err)
	}
	var b bytes.Buffer
	b.WriteString("# Scenario reference\n\n")
	b.WriteString("Generated from the JSON Schema of the scenario format (`gameday schema`); do not edit: run\n")
	b.WriteString("`gameday schema --markdown > docs/scenario-reference.md`. `gameday validate` is the authority: it\n")
	b.WriteString("also checks what a schema cannot (names unique within a list, names that refer to each other,\n")
	b.WriteString("PromQL and template syntax, the folders and URLs an exec command names).\n\n")
	b.WriteString("Durations are Go durations (`30s`, `1m30s`, `250ms`); rates are `<count>/<period>` (`200/s`,\n")
	b.WriteString("`50/100ms`); objectives are `<op> <value>` (`>= 0.99`, `>= 99.5%`, `<= 300ms`).\n")
	queue := []string{strings.TrimPrefix(doc.Ref, "#/$defs/")}
	seen := map[string]bool{queue[0]: true}
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		def := doc.Defs[name]
		fmt.Fprintf(&b, "\n## %s\n\n", name)
		if d, ok := def["description"].(string); ok {
			b.WriteString(d + "\n\n")
		}
		props, _ := def["properties"].(map[string]any)
		keys := make([]string, 0, len(props))
		for k := range props {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		required := map[string]bool{}
		if req, ok := def["required"].([]any); ok {
			for _, r := range req {
				required[r.(string)] = true
			}
		}
		b.WriteString("| key | type | required | description |\n|---|---|---|---|\n")
		for _, k := range keys {
			p := props[k].(map[string]any)
			typ, refs := typeText(p)
			for _, r := range refs {
				if !seen[r] {
					seen[r] = true
					queue = append(queue, r)
				}
			}
			req := ""
			if required[k] {
				req = "yes"
			}
			desc, _ := p["description"].(string)
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", k, typ, req, cell(desc))
		}
		if one, ok := def["oneOf"].([]any); ok {
			var alts []string
			for _, o := range one {
				if r, ok := o.(map[string]any)["required"].([]any); ok && len(r) == 1 {
					alts = append(alts, "`"+r[0].(string)+"`")
				}
			}
			if len(alts) == len(one) {
				fmt.Fprintf(&b, "\nExactly one of %s.\n", strings.Join(alts, ", "))
			}
		}
		if rules := ruleTexts(def); len(rules) > 0 {
			b.WriteString("\nRules between its keys (the schema's `allOf`):\n\n")
			for _, r := range rules {
				fmt.Fprintf(&b, "- %s\n", r)
			}
		}
	}
	return b.Bytes(), nil
}

// ruleTexts are the descriptions of def's rules (allOf), in order.
func ruleTexts(def map[string]any) []string {
	all, _ := def["allOf"].([]any)
	var out []string
	for _, r := range all {
		if d, ok := r.(map[string]any)["description"].(string); ok && d != "" {
			out = append(out, d)
		}
	}
	return out
}

// typeText renders the type of a property and returns the objects it
// refers to.
func typeText(p map[string]any) (string, []string) {
	if ref, ok := p["$ref"].(string); ok {
		name := strings.TrimPrefix(ref, "#/$defs/")
		return "[" + name + "](#" + strings.ToLower(name) + ")", []string{name}
	}
	if c, ok := p["const"]; ok {
		return fmt.Sprintf("`%v`", c), nil
	}
	if enum, ok := p["enum"].([]any); ok {
		vals := make([]string, len(enum))
		for i, e := range enum {
			vals[i] = fmt.Sprintf("`%v`", e)
		}
		return "one of " + strings.Join(vals, ", "), nil
	}
	if alts, ok := p["anyOf"].([]any); ok {
		if d, _ := p["description"].(string); strings.Contains(d, "a Go duration") {
			return "duration", nil
		}
		var parts []string
		var refs []string
		for _, a := range alts {
			t, r := typeText(a.(map[string]any))
			parts = append(parts, t)
			refs = append(refs, r...)
		}
		return strings.Join(parts, " or "), refs
	}
	switch p["type"] {
	case "array":
		t, refs := typeText(p["items"].(map[string]any))
		return "list of " + t, refs
	case "object":
		if ap, ok := p["additionalProperties"].(map[string]any); ok {
			t, refs := typeText(ap)
			return "map of " + t, refs
		}
		return "object", nil
	case "string":
		switch pat, _ := p["pattern"].(string); pat {
		case ratePattern:
			return "rate", nil
		case objectivePattern:
			return "objective", nil
		}
		return "string", nil
	case nil:
		return "any", nil
	}
	return fmt.Sprint(p["type"]), nil
}

// cell makes text safe in a Markdown table cell.
func cell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}
