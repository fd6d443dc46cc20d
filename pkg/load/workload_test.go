package load

import (
	"math/rand/v2"
	"strings"
	"testing"
)

func TestParseLengths(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for in, check := range map[string]func(Lengths) bool{
		"128":     func(l Lengths) bool { return l.Draw(r) == 128 && l.String() == "128" },
		"64-256":  func(l Lengths) bool { n := l.Draw(r); return n >= 64 && n <= 256 && l.String() == "64-256" },
		"100±10":  func(l Lengths) bool { return l.SD == 10 && l.Mean == 100 && l.String() == "100±10" },
		"100+-10": func(l Lengths) bool { return l.SD == 10 },
	} {
		l, err := ParseLengths("--prompt-tokens", in)
		if err != nil || !check(l) {
			t.Errorf("ParseLengths(%q) = %+v, %v", in, l, err)
		}
	}
	// A normal distribution's draws stay near the mean and at least 1.
	l, _ := ParseLengths("--output-tokens", "5±50")
	for range 1000 {
		if l.Draw(r) < 1 {
			t.Fatal("drew a length below 1")
		}
	}
	for _, in := range []string{"", "0", "-3", "abc", "9-3", "10±x", "10±-1", "1.5"} {
		_, err := ParseLengths("--prompt-tokens", in)
		if err == nil || !strings.HasPrefix(err.Error(), "--prompt-tokens") || strings.Contains(err.Error(), "\n") {
			t.Errorf("ParseLengths(%q) = %v, want a one-line error", in, err)
		}
	}
}

func TestWorkloadSynthetic(t *testing.T) {
	w := Workload{PromptTokens: Fixed(50), OutputTokens: Fixed(16)}
	r := rand.New(rand.NewPCG(1, 2))
	p := w.Next(0, r)
	if len(p.Text) != 200 || len(strings.Fields(p.Text)) != 50 || p.MaxTokens != 16 {
		t.Errorf("prompt of %d bytes, %d words, max_tokens %d", len(p.Text), len(strings.Fields(p.Text)), p.MaxTokens)
	}
	if q := w.Next(1, r); q.Text == p.Text {
		t.Error("two synthetic prompts are equal: the prefix cache would serve them")
	}
}

func TestReadPrompts(t *testing.T) {
	in := `{"prompt": "Why is the sky blue?", "max_tokens": 64}

{"messages": [{"role": "user", "content": "hi"}]}
`
	ps, err := ReadPrompts("p.jsonl", strings.NewReader(in))
	if err != nil || len(ps) != 2 || ps[0].MaxTokens != 64 || ps[1].Messages[0].Content != "hi" {
		t.Fatalf("ReadPrompts = %+v, %v", ps, err)
	}
	w := Workload{Prompts: ps, OutputTokens: Fixed(8)}
	r := rand.New(rand.NewPCG(1, 2))
	if a, b, c := w.Next(0, r), w.Next(1, r), w.Next(2, r); a.MaxTokens != 64 || b.MaxTokens != 8 || c.Text != a.Text {
		t.Errorf("Next: %+v %+v %+v", a, b, c)
	}
	for in, want := range map[string]string{
		"":                               "has no prompts",
		"{\"prompt\": 3}":                "line 1",
		"{}\n":                           `no "prompt" or "messages"`,
		"{\"promt\": \"x\"}":             `unknown field "promt"`,
		"{\"prompt\":\"x\"}\nnope":       "line 2",
		`{"prompt":"x","max_tokens":-1}`: "must not be negative",
	} {
		_, err := ReadPrompts("p.jsonl", strings.NewReader(in))
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("ReadPrompts(%q) = %v, want one line containing %q", in, err, want)
		}
	}
}
