package scenarios

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// maxNodes bounds the nodes and keys Decode visits, merged and aliased ones
// included, so that a small file of nested aliases or merge keys (a "billion
// laughs") cannot make it work without end.
const maxNodes = 100_000

// maxProblems bounds the problems Decode reports: past it, a file is more
// likely not a scenario at all than a scenario with that many mistakes.
const maxProblems = 100

// Decode reads one scenario document strictly. It reports, all at once and in
// document order, every YAML syntax error, unknown key, duplicate key, value
// of the wrong kind (a list where a map belongs) and malformed value (a
// duration without a unit, a bad rate or objective), each as
// "file:line:col: path.to.field: message". A file must hold exactly one
// document, of at most MaxFileSize bytes of UTF-8 (or UTF-16 with a
// byte-order mark); "%YAML 1.2" is read as 1.1. Aliases and merge keys ("<<")
// are expanded; a merge cycle is a problem, and so is a document that expands
// to more than 100,000 nodes and keys. Enum-like strings (toxic, direction,
// signal, sli, phases, mode) are not checked here but by Validate. The result
// remembers where each field was written, for Validate and Scenario.Position.
// Failures are *Error.
func Decode(file string, data []byte) (*Scenario, error) {
	s, d := decodeAll(file, data)
	if err := errorOf(d.problems); err != nil {
		return nil, err
	}
	return s, nil
}

// decodeAll decodes what it can of data: the scenario (nil when the
// document could not be read at all) and the decoder with its problems.
func decodeAll(file string, data []byte) (*Scenario, *decoder) {
	d := &decoder{file: file, pos: map[string]Pos{}}
	root := d.parse(data)
	if root == nil {
		return nil, d
	}
	s := &Scenario{File: file}
	d.pos[""] = posOf(root)
	d.decode(root, "", reflect.ValueOf(s).Elem())
	s.pos, s.nulls = d.pos, d.nulls
	return s, d
}

// decoder walks a yaml.Node tree into the scenario types by reflection over
// their yaml struct tags, collecting problems instead of stopping at the first.
type decoder struct {
	file     string
	problems []Problem
	pos      map[string]Pos
	nulls    map[string]Pos           // keys written with a null value, by path
	nodes    int                      // nodes and keys visited, against maxNodes
	stopped  bool                     // a cap was reached: record nothing more
	merging  []*yaml.Node             // the maps whose keys are being listed, innermost last
	fields   map[reflect.Type][]field // yamlFields by type, listed once per decode
}

// parse reads the single document of data and returns its root node, or nil
// after recording why there is none.
func (d *decoder) parse(data []byte) (root *yaml.Node) {
	data, p := text(d.file, data)
	if p == nil {
		p = tooDeep(d.file, data)
	}
	if p != nil {
		d.problems = append(d.problems, *p)
		return nil
	}
	defer func() {
		// yaml.v3 is third-party code fed by users: a panic in it is a
		// problem with the input, not a crash of gameday.
		if r := recover(); r != nil {
			d.problems = append(d.problems, Problem{File: d.file, Pos: Pos{1, 1}, Msg: fmt.Sprintf("invalid YAML: %v", r)})
			root = nil
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			d.problems = append(d.problems, Problem{File: d.file, Msg: "the scenario is empty"})
		} else {
			d.problems = append(d.problems, syntaxProblem(d.file, data, err))
		}
		return nil
	}
	root = &doc
	if doc.Kind == yaml.DocumentNode {
		root = nil
		if len(doc.Content) > 0 {
			root = doc.Content[0]
		}
	}
	if root == nil || isNull(root) {
		d.problems = append(d.problems, Problem{File: d.file, Pos: posOf(&doc), Msg: "the scenario is empty"})
		root = nil
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		d.problems = append(d.problems, syntaxProblem(d.file, data, err))
		root = nil
	default:
		d.problems = append(d.problems, Problem{File: d.file, Pos: docStart(&next), Msg: "a scenario file holds one document"})
		root = nil
	}
	return root
}

// docStart is where a document begins: its "---" line when it has one.
func docStart(doc *yaml.Node) Pos {
	if doc.Line > 0 {
		return posOf(doc)
	}
	if len(doc.Content) > 0 {
		return posOf(doc.Content[0])
	}
	return Pos{}
}

func posOf(n *yaml.Node) Pos { return Pos{Line: n.Line, Col: n.Column} }

// errf records a problem at n, unless a cap was reached. The problem that
// reaches maxProblems is followed by one that says the rest is not reported.
func (d *decoder) errf(n *yaml.Node, path, format string, args ...any) {
	if d.stopped {
		return
	}
	d.problems = append(d.problems, Problem{File: d.file, Pos: posOf(n), Path: path, Msg: fmt.Sprintf(format, args...)})
	if len(d.problems) == maxProblems {
		d.problems = append(d.problems, Problem{File: d.file, Pos: posOf(n), Msg: fmt.Sprintf("too many problems: stopped after the first %d", maxProblems)})
		d.stopped = true
	}
}

// visit counts n against maxNodes and reports false, after recording the
// problem once, when the cap is passed.
func (d *decoder) visit(n *yaml.Node, path string) bool {
	if d.stopped {
		return false
	}
	d.nodes++
	if d.nodes > maxNodes {
		d.errf(n, path, "the document is too large once its aliases and merge keys (<<) are expanded: more than %d nodes and keys, the cap", maxNodes)
		d.stopped = true
		return false
	}
	return true
}

var (
	durationType  = reflect.TypeFor[time.Duration]()
	rateType      = reflect.TypeFor[Rate]()
	objectiveType = reflect.TypeFor[Objective]()
	phaseType     = reflect.TypeFor[Phase]()
)

// decode stores n into v, whose field path is path. A null leaves v as it is.
func (d *decoder) decode(n *yaml.Node, path string, v reflect.Value) {
	n = resolve(n)
	if !d.visit(n, path) || isNull(n) {
		return
	}
	switch v.Type() {
	case durationType:
		if s, ok := d.scalar(n, path, "a duration"); ok {
			if dur, err := parseDuration(s); err != nil {
				d.errf(n, path, "%v", err)
			} else {
				v.SetInt(int64(dur))
			}
		}
		return
	case rateType:
		if s, ok := d.scalar(n, path, "a rate"); ok {
			if r, err := ParseRate(s); err != nil {
				d.errf(n, path, "%v", err)
			} else {
				v.Set(reflect.ValueOf(r))
			}
		}
		return
	case objectiveType:
		if s, ok := d.scalar(n, path, "an objective"); ok {
			if o, err := ParseObjective(s); err != nil {
				d.errf(n, path, "%v", err)
			} else {
				v.Set(reflect.ValueOf(o))
			}
		}
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(n, path, v.Elem())
	case reflect.Struct:
		d.decodeStruct(n, path, v)
	case reflect.Slice:
		d.decodeSlice(n, path, v)
	case reflect.Map:
		d.decodeMap(n, path, v)
	case reflect.String:
		if s, ok := d.scalar(n, path, "a string"); ok {
			v.SetString(s)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if s, ok := d.scalar(n, path, "an integer"); ok {
			i, err := strconv.ParseInt(strings.ReplaceAll(s, "_", ""), 0, 64)
			if n.ShortTag() != "!!int" || err != nil || v.OverflowInt(i) {
				d.errf(n, path, "expected an integer, got %s", describe(n))
				return
			}
			v.SetInt(i)
		}
	case reflect.Float32, reflect.Float64:
		if s, ok := d.scalar(n, path, "a number"); ok {
			f, err := strconv.ParseFloat(strings.ReplaceAll(s, "_", ""), 64)
			tag := n.ShortTag()
			if (tag != "!!int" && tag != "!!float") || err != nil || v.OverflowFloat(f) || math.IsNaN(f) {
				d.errf(n, path, "expected a finite number, got %s", describe(n))
				return
			}
			v.SetFloat(f)
		}
	case reflect.Bool:
		if s, ok := d.scalar(n, path, "true or false"); ok {
			b, err := strconv.ParseBool(s)
			if n.ShortTag() != "!!bool" || err != nil {
				d.errf(n, path, "expected true or false, got %s", describe(n))
				return
			}
			v.SetBool(b)
		}
	default:
		// Only reachable if types.go gains a field of a kind this decoder
		// does not know: fail loudly rather than ignore the value.
		d.errf(n, path, "cannot decode into a Go %s", v.Type())
	}
}

// scalar returns the text of a scalar node, or records that want was expected.
func (d *decoder) scalar(n *yaml.Node, path, want string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.errf(n, path, "expected %s, got %s", want, describe(n))
		return "", false
	}
	return n.Value, true
}

// field is one yaml key of a struct: index is the path of struct field
// indexes to it (longer than one for a field of an inline struct).
type field struct {
	name  string
	index []int
}

// yamlFields lists the yaml keys of a struct type in declaration order. The
// keys of a struct field tagged `yaml:",inline"` are listed in its place, as
// if they were the outer struct's own (yaml.v3's meaning of inline); a key
// written twice that way is a bug of the types, and panics.
func yamlFields(t reflect.Type) []field {
	var fs []field
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" && opts == "inline" && f.Type.Kind() == reflect.Struct {
			for _, in := range yamlFields(f.Type) {
				fs = append(fs, field{name: in.name, index: append([]int{i}, in.index...)})
			}
			continue
		}
		switch name {
		case "-":
			continue
		case "":
			name = strings.ToLower(f.Name)
		}
		fs = append(fs, field{name: name, index: []int{i}})
	}
	seen := map[string]bool{}
	for _, f := range fs {
		if seen[f.name] {
			panic(fmt.Sprintf("scenarios: yaml key %q appears twice in %s (an inline struct repeats it)", f.name, t))
		}
		seen[f.name] = true
	}
	return fs
}

func (d *decoder) decodeStruct(n *yaml.Node, path string, v reflect.Value) {
	if n.Kind != yaml.MappingNode {
		d.errf(n, path, "expected a map, got %s", describe(n))
		return
	}
	fields, ok := d.fields[v.Type()]
	if !ok {
		if d.fields == nil {
			d.fields = map[reflect.Type][]field{}
		}
		fields = yamlFields(v.Type())
		d.fields[v.Type()] = fields
	}
	for _, kv := range d.pairs(n, path) {
		p := joinPath(path, kv.key.Value)
		i := -1
		for j, f := range fields {
			if f.name == kv.key.Value {
				i = j
				break
			}
		}
		if i < 0 {
			names := make([]string, len(fields))
			for j, f := range fields {
				names[j] = f.name
			}
			d.errf(kv.key, p, "unknown field %q (known: %s)", kv.key.Value, strings.Join(names, ", "))
			continue
		}
		if !isNull(resolve(kv.value)) {
			// A null is not a written value: the field stays absent, and
			// SetDefaults fills it (see SetDefaults).
			d.pos[p] = kv.pos()
		} else {
			if d.nulls == nil {
				d.nulls = map[string]Pos{}
			}
			d.nulls[p] = kv.pos()
		}
		d.decode(kv.value, p, v.FieldByIndex(fields[i].index))
	}
}

func (d *decoder) decodeSlice(n *yaml.Node, path string, v reflect.Value) {
	if n.Kind == yaml.ScalarNode && v.Type().Elem() == phaseType {
		// "during: all" is short for "during: [all]".
		s := reflect.MakeSlice(v.Type(), 1, 1)
		d.pos[path+"[0]"] = posOf(n)
		d.decode(n, path+"[0]", s.Index(0))
		v.Set(s)
		return
	}
	if n.Kind != yaml.SequenceNode {
		want := "a list"
		if v.Type().Elem() == phaseType {
			want = "a phase or a list of phases"
		}
		d.errf(n, path, "expected %s, got %s", want, describe(n))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, c := range n.Content {
		p := fmt.Sprintf("%s[%d]", path, i)
		d.pos[p] = posOf(c) // an alias is cited where it is used
		d.decode(c, p, s.Index(i))
	}
	v.Set(s)
}

func (d *decoder) decodeMap(n *yaml.Node, path string, v reflect.Value) {
	if n.Kind != yaml.MappingNode {
		d.errf(n, path, "expected a map, got %s", describe(n))
		return
	}
	t := v.Type()
	if t.Key().Kind() != reflect.String {
		d.errf(n, path, "cannot decode into a Go %s", t)
		return
	}
	m := reflect.MakeMap(t)
	for _, kv := range d.pairs(n, path) {
		p := joinPath(path, kv.key.Value)
		d.pos[p] = kv.pos()
		e := reflect.New(t.Elem()).Elem()
		d.decode(kv.value, p, e)
		m.SetMapIndex(reflect.ValueOf(kv.key.Value).Convert(t.Key()), e)
	}
	v.Set(m)
}

// pair is one key and value of a mapping.
type pair struct{ key, value *yaml.Node }

// pos is where a field is cited: its value when it is a scalar, its key when
// the value is a map or list (whose own position is the first inner key).
func (kv pair) pos() Pos {
	if v := resolve(kv.value); v.Kind == yaml.ScalarNode && !isNull(v) {
		return posOf(kv.value)
	}
	return posOf(kv.key)
}

// pairs returns the keys and values of a mapping in document order, with
// merge keys ("<<: *base") expanded (explicit keys win over merged ones, and
// earlier merged maps over later ones). It reports keys that are not strings,
// keys written twice and merge cycles, and counts every key it lists, merged
// ones included, against maxNodes.
func (d *decoder) pairs(n *yaml.Node, path string) []pair {
	d.merging = append(d.merging, n)
	defer func() { d.merging = d.merging[:len(d.merging)-1] }()
	explicit := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; k.Kind == yaml.ScalarNode && k.ShortTag() != "!!merge" {
			explicit[k.Value] = k
		}
	}
	var out []pair
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if !d.visit(k, path) {
			return out
		}
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			out = append(out, d.merged(val, path, explicit, seen)...)
			continue
		}
		if k.Kind != yaml.ScalarNode {
			d.errf(k, path, "a key must be a string, got %s", describe(k))
			continue
		}
		if first, dup := seen[k.Value]; dup {
			d.errf(k, joinPath(path, k.Value), "duplicate key %q (first at %d:%d)", k.Value, first.Line, first.Column)
			continue
		}
		seen[k.Value] = k
		out = append(out, pair{k, val})
	}
	return out
}

// merged returns the pairs a merge key brings in: from one map or a list of
// maps, skipping keys already present. A map that is itself being listed
// (an alias back to an enclosing map) is a cycle, reported at the alias.
func (d *decoder) merged(val *yaml.Node, path string, explicit, seen map[string]*yaml.Node) []pair {
	written := []*yaml.Node{val} // as written, for positions and names
	if v := resolve(val); v.Kind == yaml.SequenceNode {
		written = v.Content
	}
	var out []pair
	for _, w := range written {
		m := resolve(w)
		if m.Kind != yaml.MappingNode {
			d.errf(w, path, "a merge key (<<) takes a map or a list of maps, got %s", describe(w))
			continue
		}
		if slices.Contains(d.merging, m) {
			d.errf(w, path, "merge key (<<) cycle: %s is the map at %d:%d, which already contains this merge", aliasName(w), m.Line, m.Column)
			continue
		}
		for _, kv := range d.pairs(m, path) {
			if _, ok := explicit[kv.key.Value]; ok {
				continue
			}
			if _, ok := seen[kv.key.Value]; ok {
				continue
			}
			seen[kv.key.Value] = kv.key
			out = append(out, kv)
		}
		if d.stopped {
			break
		}
	}
	if len(written) == 0 {
		d.errf(val, path, "a merge key (<<) takes a map or a list of maps, got an empty list")
	}
	return out
}

// aliasName names the node a merge key names: "*name" for an alias.
func aliasName(n *yaml.Node) string {
	if n.Kind == yaml.AliasNode {
		return "*" + n.Value
	}
	return "the map"
}

// resolve follows aliases to the node they name.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// describe names what a node holds, for "expected ..., got ..." messages.
func describe(n *yaml.Node) string {
	n = resolve(n)
	switch n.Kind {
	case yaml.MappingNode:
		return "a map"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return "null"
		case "!!str":
			return fmt.Sprintf("the string %q", n.Value)
		}
		return n.Value
	}
	return "an unresolved alias"
}

// joinPath appends a yaml key to a field path.
func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// MaxFlowDepth bounds how deeply flow collections ([...] and {...}) nest: a
// scenario needs a handful of levels, and yaml.v3 spends memory without
// bound on thousands (a 3 KB file of "[[[[..." costs it 240 MB).
const MaxFlowDepth = 64

// tooDeep finds flow collections nested deeper than MaxFlowDepth, outside
// quoted scalars and comments, and says where; nil when there are none.
func tooDeep(file string, data []byte) *Problem {
	depth, line, col := 0, 1, 0
	var quote byte // the open quote, 0 outside one
	comment := false
	for i := 0; i < len(data); i++ {
		c := data[i]
		col++
		switch {
		case c == '\n':
			line, col, comment = line+1, 0, false
			continue
		case comment:
			continue
		case quote != 0:
			switch {
			case quote == '"' && c == '\\':
				i++
				col++
			case c == quote:
				quote = 0
			}
			continue
		}
		switch c {
		case '#':
			if i == 0 || data[i-1] == ' ' || data[i-1] == '\t' || data[i-1] == '\n' {
				comment = true
			}
		case '"', '\'':
			if depth > 0 || i == 0 || data[i-1] == ' ' || data[i-1] == ':' || data[i-1] == '-' || data[i-1] == '\n' {
				quote = c
			}
		case '[', '{':
			depth++
			if depth > MaxFlowDepth {
				return &Problem{File: file, Pos: Pos{line, col}, Msg: fmt.Sprintf("invalid YAML: collections nested more than %d deep", MaxFlowDepth)}
			}
		case ']', '}':
			if depth > 0 {
				depth--
			}
		}
	}
	return nil
}
