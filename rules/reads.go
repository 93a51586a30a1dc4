package rules

import (
	"slices"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"
)

// Reads is what a rule set's contact-model expressions read of an event's
// objects: the keys of event.properties and of contact they name, so that
// a backtest can decode only those (events.Projection).
type Reads struct {
	// All: some expression reads an object as a whole or by a key known
	// only at run time (`event.properties[k]`, `len(contact)`, `contact`
	// passed to a function, `$env`...): every key must be decoded.
	All        bool
	Properties []string // sorted
	Contact    []string // sorted
}

// Reads collects what the contact models' `when` and `points`
// expressions read. Company models read contact properties too (their
// coverage property), outside any expression: the caller adds those.
func (s *Set) Reads() Reads {
	var c readsCollector
	for _, m := range s.Models {
		for _, g := range m.Groups {
			c.expr(g.When)
			if g.points != nil {
				c.expr(g.Points)
			}
		}
	}
	r := Reads{All: c.all}
	if !r.All {
		r.Properties = sortedKeys(c.props)
		r.Contact = sortedKeys(c.contact)
	}
	return r
}

type readsCollector struct {
	all            bool
	props, contact map[string]bool
	// named counts the uses of `event`, `contact` and `$env`; static those
	// that are a fixed field or key, which is every use unless one reads
	// an object dynamically.
	named, static int
}

func (c *readsCollector) expr(src string) {
	if c.all {
		return
	}
	tree, err := parser.Parse(src)
	if err != nil { // the rules compiled it: should not happen
		c.all = true
		return
	}
	c.named, c.static = 0, 0
	ast.Walk(&tree.Node, c)
	if c.named != c.static {
		c.all = true
	}
}

// eventFields are the fields of `event` that are not an object.
var eventFields = []string{"id", "type", "contact_id", "company_id", "occurred_at"}

// Visit counts the uses of the environment's names, and the static ones:
// `contact.K`, `contact["K"]`, `event.properties.K`, `event.F` for a
// field F above (optional chaining included: it reads the same key).
func (c *readsCollector) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.IdentifierNode:
		switch n.Value {
		case "event", "contact", "$env":
			c.named++
		}
	case *ast.MemberNode:
		key, ok := n.Property.(*ast.StringNode)
		if !ok || n.Method {
			return
		}
		if id, ok := n.Node.(*ast.IdentifierNode); ok {
			switch {
			case id.Value == "contact":
				c.static++
				c.contact = addKey(c.contact, key.Value)
			case id.Value == "event" && slices.Contains(eventFields, key.Value):
				c.static++
			}
			return
		}
		if inner, ok := n.Node.(*ast.MemberNode); ok && !inner.Method {
			id, ok1 := inner.Node.(*ast.IdentifierNode)
			p, ok2 := inner.Property.(*ast.StringNode)
			if ok1 && ok2 && id.Value == "event" && p.Value == "properties" {
				c.static++
				c.props = addKey(c.props, key.Value)
			}
		}
	}
}

func addKey(m map[string]bool, k string) map[string]bool {
	if m == nil {
		m = map[string]bool{}
	}
	m[k] = true
	return m
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
