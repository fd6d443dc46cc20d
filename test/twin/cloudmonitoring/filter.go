package cloudmonitoring

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// filter is a parsed Cloud Monitoring list filter: terms joined by AND
// (the monitoring filter syntax the adapter and doctor write; OR and
// parentheses are refused with INVALID_ARGUMENT).
type filter []term

type term struct {
	not   bool
	field string // "metric.type", "resource.labels.job", ...
	op    string // "=", "!=", ":", ">", "<"
	// values: one for a plain comparison, several for one_of(...).
	values []string
	regex  *regexp.Regexp // monitoring.regex.full_match
	fn     string         // starts_with, ends_with, has_substring
}

// match tells whether fields (a series' or descriptor's field values)
// satisfy every term. A field that is absent compares as "".
func (f filter) match(fields map[string]string) bool {
	for _, t := range f {
		if t.eval(fields) == t.not {
			return false
		}
	}
	return true
}

func (t term) eval(fields map[string]string) bool {
	v, present := fields[t.field]
	switch t.op {
	case ":":
		if len(t.values) == 0 {
			return present
		}
		return present && strings.Contains(v, t.values[0])
	case ">", "<":
		a, err1 := strconv.ParseFloat(v, 64)
		b, err2 := strconv.ParseFloat(t.values[0], 64)
		if err1 != nil || err2 != nil {
			return false
		}
		if t.op == ">" {
			return a > b
		}
		return a < b
	}
	var eq bool
	switch {
	case t.regex != nil:
		eq = t.regex.MatchString(v)
	case t.fn == "starts_with":
		eq = strings.HasPrefix(v, t.values[0])
	case t.fn == "ends_with":
		eq = strings.HasSuffix(v, t.values[0])
	case t.fn == "has_substring":
		eq = strings.Contains(v, t.values[0])
	default:
		for _, w := range t.values {
			if v == w {
				eq = true
			}
		}
	}
	if t.op == "!=" {
		return !eq
	}
	return eq
}

// parseFilter parses the filter syntax of the v3 list calls.
func parseFilter(s string) (filter, error) {
	p := &parser{s: s}
	var f filter
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	for {
		t, err := p.term()
		if err != nil {
			return nil, fmt.Errorf("Invalid filter: %s: %v", s, err)
		}
		f = append(f, t)
		p.space()
		if p.eof() {
			return f, nil
		}
		if !p.keyword("AND") {
			return nil, fmt.Errorf("Invalid filter: %s: expected AND at offset %d (the twin accepts terms joined by AND)", s, p.i)
		}
	}
}

type parser struct {
	s string
	i int
}

func (p *parser) eof() bool { return p.i >= len(p.s) }

func (p *parser) space() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\n') {
		p.i++
	}
}

func (p *parser) keyword(k string) bool {
	p.space()
	if strings.HasPrefix(p.s[p.i:], k) && (p.i+len(k) == len(p.s) || p.s[p.i+len(k)] == ' ') {
		p.i += len(k)
		return true
	}
	return false
}

func (p *parser) ident() string {
	p.space()
	start := p.i
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c == '_' || c == '.' || c == '-' || c == '/' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			p.i++
			continue
		}
		break
	}
	return p.s[start:p.i]
}

// fieldName normalises the aliases metric.label.K and resource.label.K.
func fieldName(f string) string {
	for _, pre := range []string{"metric.label.", "resource.label.", "metadata.system_label.", "metadata.user_label."} {
		if rest, ok := strings.CutPrefix(f, pre); ok {
			return strings.TrimSuffix(pre, ".") + "s." + rest
		}
	}
	return f
}

func (p *parser) term() (term, error) {
	var t term
	if p.keyword("NOT") {
		t.not = true
	}
	t.field = fieldName(p.ident())
	if t.field == "" {
		return t, fmt.Errorf("expected a field name at offset %d", p.i)
	}
	p.space()
	for _, op := range []string{"!=", "=", ":", ">", "<"} {
		if strings.HasPrefix(p.s[p.i:], op) {
			t.op = op
			p.i += len(op)
			break
		}
	}
	if t.op == "" {
		return t, fmt.Errorf("expected =, !=, :, > or < after %s", t.field)
	}
	p.space()
	if p.eof() {
		if t.op == ":" {
			return t, nil
		}
		return t, fmt.Errorf("expected a value after %s %s", t.field, t.op)
	}
	if p.s[p.i] == '"' || p.s[p.i] == '\'' {
		v, err := p.quoted()
		if err != nil {
			return t, err
		}
		t.values = []string{v}
		return t, nil
	}
	word := p.ident()
	p.space()
	if p.i < len(p.s) && p.s[p.i] == '(' {
		p.i++
		args, err := p.args()
		if err != nil {
			return t, err
		}
		switch word {
		case "one_of":
			t.values = args
		case "monitoring.regex.full_match":
			if len(args) != 1 {
				return t, fmt.Errorf("monitoring.regex.full_match takes one argument")
			}
			re, err := regexp.Compile("^(?:" + args[0] + ")$")
			if err != nil {
				return t, err
			}
			t.regex = re
		case "starts_with", "ends_with", "has_substring":
			if len(args) != 1 {
				return t, fmt.Errorf("%s takes one argument", word)
			}
			t.fn, t.values = word, args
		default:
			return t, fmt.Errorf("unknown function %s", word)
		}
		return t, nil
	}
	if word == "" {
		return t, fmt.Errorf("expected a value after %s %s", t.field, t.op)
	}
	t.values = []string{word}
	return t, nil
}

func (p *parser) args() ([]string, error) {
	var out []string
	for {
		p.space()
		if p.eof() {
			return nil, fmt.Errorf("unterminated argument list")
		}
		if p.s[p.i] == ')' {
			p.i++
			return out, nil
		}
		var v string
		var err error
		if p.s[p.i] == '"' || p.s[p.i] == '\'' {
			v, err = p.quoted()
		} else {
			v = p.ident()
			if v == "" {
				err = fmt.Errorf("unexpected %q at offset %d", p.s[p.i], p.i)
			}
		}
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		p.space()
		if p.i < len(p.s) && p.s[p.i] == ',' {
			p.i++
		}
	}
}

// quoted reads a string literal with backslash escapes.
func (p *parser) quoted() (string, error) {
	q := p.s[p.i]
	p.i++
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '\\' && p.i+1 < len(p.s):
			b.WriteByte(p.s[p.i+1])
			p.i += 2
		case c == q:
			p.i++
			return b.String(), nil
		default:
			b.WriteByte(c)
			p.i++
		}
	}
	return "", fmt.Errorf("unterminated string")
}
