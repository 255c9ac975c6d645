package load

import (
	"fmt"
	"text/template"
	"text/template/parse"
	"time"
)

// Built-in template functions, besides the ones a Stream's Funcs add:
//
//	{{randInt 1 100}}      an integer from 1 to 100, both included
//	{{pick "a" "b" "c"}}   one of its arguments
//	{{now}}                the time of rendering, RFC 3339 in UTC with milliseconds
//
// randInt and pick draw from the request's own generator, seeded by the
// stream's Seed and the request's Seq: the same seed gives every request
// the same draws, whichever worker renders it and in whatever order.
//
// They need the request's Data, which a template function does not see:
// newField rewrites each call of a data function to pass the template's
// root data first ({{randInt 1 6}} runs as randInt $ 1 6), so that the
// functions stay pure per request and no lock is shared by the workers.
const nowLayout = "2006-01-02T15:04:05.000Z07:00"

// dataFuncs are the built-in functions that take the request's Data as a
// hidden first argument.
var dataFuncs = map[string]bool{"randInt": true, "pick": true}

// builtinFuncs returns the built-in functions, bound for execution.
func builtinFuncs() template.FuncMap {
	return template.FuncMap{
		"randInt": func(d *Data, a, b int) (int, error) {
			if a > b {
				return 0, fmt.Errorf("randInt %d %d: the first bound is above the second", a, b)
			}
			span := uint64(b) - uint64(a) + 1 //nolint:gosec // G115: two's complement, exact for any a <= b
			if span == 0 {                    // the whole int64 range
				return int(d.next()), nil //nolint:gosec // G115: any 64 bits are a uniform int
			}
			return a + int(d.next()%span), nil //nolint:gosec // G115: below span, which fits: a + it <= b
		},
		"pick": func(d *Data, first string, rest ...string) string {
			i := d.next() % uint64(1+len(rest))
			if i == 0 {
				return first
			}
			return rest[i-1]
		},
		"now": func() string { return time.Now().UTC().Format(nowLayout) },
	}
}

// passRoot rewrites every call of a data function in the templates of t to
// take the root data ($) as its first argument.
func passRoot(t *template.Template) {
	for _, tt := range t.Templates() {
		if tt.Tree != nil {
			passRootNode(tt.Root)
		}
	}
}

func passRootNode(n parse.Node) {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return
		}
		for _, c := range n.Nodes {
			passRootNode(c)
		}
	case *parse.ActionNode:
		passRootNode(n.Pipe)
	case *parse.PipeNode:
		if n == nil {
			return
		}
		for _, c := range n.Cmds {
			for _, a := range c.Args {
				passRootNode(a)
			}
			if id, ok := c.Args[0].(*parse.IdentifierNode); ok && dataFuncs[id.Ident] {
				root := &parse.VariableNode{NodeType: parse.NodeVariable, Pos: id.Pos, Ident: []string{"$"}}
				c.Args = append([]parse.Node{id, root}, c.Args[1:]...)
			}
		}
	case *parse.IfNode:
		passRootNode(n.Pipe)
		passRootNode(n.List)
		passRootNode(n.ElseList)
	case *parse.RangeNode:
		passRootNode(n.Pipe)
		passRootNode(n.List)
		passRootNode(n.ElseList)
	case *parse.WithNode:
		passRootNode(n.Pipe)
		passRootNode(n.List)
		passRootNode(n.ElseList)
	case *parse.TemplateNode:
		passRootNode(n.Pipe)
	}
}

// next is the request's next random draw: SplitMix64 over a state seeded
// from the stream's seed and the request's Seq (see Data.seed).
func (d *Data) next() uint64 {
	d.rnd += 0x9e3779b97f4a7c15
	z := d.rnd
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// seedFor is the generator state of the request numbered seq in a stream
// seeded with seed: distinct requests start far apart.
func seedFor(seed, seq uint64) uint64 {
	d := Data{rnd: seed ^ (seq * 0xd1342543de82ef95)}
	return d.next()
}
