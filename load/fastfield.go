package load

import (
	"bytes"
	"strconv"
	"text/template"
	"text/template/parse"
)

// A template that is literal text around plain fields of Data ({{.ID}},
// {{.Seq}}, {{.Token}}, {{.User.Token}}, ...) is rendered without
// text/template: its parts are appended in turn. That is the common shape
// of a load request, and text/template's reflection was the largest cost
// of a templated mix that was gameday's own (docs/benchmarks.md). The
// output is byte for byte text/template's.

// partKind is what one part of a fast template appends.
type partKind uint8

const (
	partText partKind = iota
	partBase
	partSeq
	partID
	partToken
	partRunID
	partUserIndex
	partUserName
	partUserToken
)

// fastFields are the field chains a fast template may print.
var fastFields = map[string]partKind{
	"Base": partBase, "Seq": partSeq, "ID": partID, "Token": partToken, "RunID": partRunID,
	"User.Index": partUserIndex, "User.Name": partUserName, "User.Token": partUserToken,
}

// part is one piece of a fast template.
type part struct {
	kind partKind
	text string // partText's
}

// fastParts returns t's parts when t is literal text and plain fields of
// fastFields only, else nil.
func fastParts(t *template.Template) []part {
	if len(t.Templates()) != 1 || t.Tree == nil || t.Root == nil {
		return nil
	}
	parts := make([]part, 0, len(t.Root.Nodes))
	for _, n := range t.Root.Nodes {
		switch n := n.(type) {
		case *parse.TextNode:
			parts = append(parts, part{kind: partText, text: string(n.Text)})
		case *parse.ActionNode:
			k, ok := fastField(n.Pipe)
			if !ok {
				return nil
			}
			parts = append(parts, part{kind: k})
		default:
			return nil
		}
	}
	return parts
}

// fastField returns the part a pipeline prints when it is one plain field.
func fastField(p *parse.PipeNode) (partKind, bool) {
	if p == nil || p.IsAssign || len(p.Decl) != 0 || len(p.Cmds) != 1 || len(p.Cmds[0].Args) != 1 {
		return 0, false
	}
	f, ok := p.Cmds[0].Args[0].(*parse.FieldNode)
	if !ok {
		return 0, false
	}
	chain := ""
	for i, id := range f.Ident {
		if i > 0 {
			chain += "."
		}
		chain += id
	}
	k, ok := fastFields[chain]
	return k, ok
}

// appendParts appends the parts rendered for d to buf; false, with buf
// unchanged, when a part needs what d lacks (a user): text/template then
// renders it, with its error.
func appendParts(buf *bytes.Buffer, parts []part, d *Data) bool {
	if d.User == nil {
		for _, p := range parts {
			if p.kind >= partUserIndex {
				return false
			}
		}
	}
	for _, p := range parts {
		switch p.kind {
		case partText:
			buf.WriteString(p.text)
		case partBase:
			buf.WriteString(d.Base)
		case partSeq:
			buf.Write(strconv.AppendUint(buf.AvailableBuffer(), d.Seq, 10))
		case partID:
			buf.WriteString(d.ID)
		case partToken:
			buf.WriteString(d.Token)
		case partRunID:
			buf.WriteString(d.RunID)
		case partUserIndex:
			buf.Write(strconv.AppendInt(buf.AvailableBuffer(), int64(d.User.Index), 10))
		case partUserName:
			buf.WriteString(d.User.Name)
		case partUserToken:
			buf.WriteString(d.User.Token)
		}
	}
	return true
}
