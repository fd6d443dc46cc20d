package load

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
)

// Lengths is a token-count distribution: a fixed N, uniform MIN-MAX, or
// normal MEAN±SD (clamped to at least 1).
type Lengths struct {
	Min, Max int     // uniform when Max > Min; fixed when equal
	Mean, SD float64 // normal when SD > 0
}

// ParseLengths reads "128", "64-256" or "128±32" (also "128+-32").
func ParseLengths(flag, s string) (Lengths, error) {
	how := fmt.Sprintf("give N, MIN-MAX or MEAN±SD tokens, e.g. %s 128 or %s 64-256", flag, flag)
	s = strings.TrimSpace(s)
	num := func(v string) (int, error) {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 1 {
			return 0, fmt.Errorf("%s %q: %q is not a token count ≥ 1: %s", flag, s, v, how)
		}
		return n, nil
	}
	for _, sep := range []string{"±", "+-"} {
		if m, sd, ok := strings.Cut(s, sep); ok {
			mean, err := num(m)
			if err != nil {
				return Lengths{}, err
			}
			dev, err := strconv.ParseFloat(strings.TrimSpace(sd), 64)
			if err != nil || dev < 0 || math.IsNaN(dev) || math.IsInf(dev, 0) {
				return Lengths{}, fmt.Errorf("%s %q: standard deviation %q must be a number ≥ 0: %s", flag, s, sd, how)
			}
			return Lengths{Min: mean, Max: mean, Mean: float64(mean), SD: dev}, nil
		}
	}
	if lo, hi, ok := strings.Cut(s, "-"); ok {
		a, err := num(lo)
		if err != nil {
			return Lengths{}, err
		}
		b, err := num(hi)
		if err != nil {
			return Lengths{}, err
		}
		if b < a {
			return Lengths{}, fmt.Errorf("%s %q: MIN is above MAX: %s", flag, s, how)
		}
		return Lengths{Min: a, Max: b, Mean: float64(a+b) / 2}, nil
	}
	n, err := num(s)
	if err != nil {
		return Lengths{}, err
	}
	return Fixed(n), nil
}

// Fixed is the distribution that is always n.
func Fixed(n int) Lengths { return Lengths{Min: n, Max: n, Mean: float64(n)} }

// Draw picks one length.
func (l Lengths) Draw(r *rand.Rand) int {
	switch {
	case l.SD > 0:
		return max(1, int(math.Round(l.Mean+r.NormFloat64()*l.SD)))
	case l.Max > l.Min:
		return l.Min + r.IntN(l.Max-l.Min+1)
	}
	return max(1, l.Min)
}

// String is the flag form.
func (l Lengths) String() string {
	switch {
	case l.SD > 0:
		return fmt.Sprintf("%d±%s", int(l.Mean), strconv.FormatFloat(l.SD, 'g', -1, 64))
	case l.Max > l.Min:
		return fmt.Sprintf("%d-%d", l.Min, l.Max)
	}
	return strconv.Itoa(l.Min)
}

// Prompt is one request to send: a prompt (completions) or chat messages,
// and the output length asked for (0: the server's default).
type Prompt struct {
	Text      string    `json:"prompt,omitempty"`
	Messages  []Message `json:"messages,omitempty"`
	MaxTokens int       `json:"max_tokens,omitempty"`
}

// Message is one chat message.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// ReadPrompts reads a JSONL file: one object per line with "prompt" (or
// "messages"), and optionally "max_tokens"; blank lines are skipped.
func ReadPrompts(name string, r io.Reader) ([]Prompt, error) {
	var out []Prompt
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	line := 0
	for sc.Scan() {
		line++
		b := strings.TrimSpace(sc.Text())
		if b == "" {
			continue
		}
		var p Prompt
		dec := json.NewDecoder(strings.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&p); err != nil {
			return nil, fmt.Errorf("--prompts %s line %d: %v: each line must be a JSON object like {\"prompt\": \"...\", \"max_tokens\": 128}", name, line, err)
		}
		if p.Text == "" && len(p.Messages) == 0 {
			return nil, fmt.Errorf("--prompts %s line %d: no \"prompt\" or \"messages\": each line must be a JSON object like {\"prompt\": \"...\", \"max_tokens\": 128}", name, line)
		}
		if p.MaxTokens < 0 {
			return nil, fmt.Errorf("--prompts %s line %d: max_tokens %d must not be negative", name, line, p.MaxTokens)
		}
		out = append(out, p)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("--prompts %s: %w", name, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--prompts %s has no prompts: write one JSON object per line", name)
	}
	return out, nil
}

// Workload hands out the requests of a run: from a prompt file in order
// (cycling), or synthetic prompts of drawn lengths.
type Workload struct {
	Prompts []Prompt
	// PromptTokens and OutputTokens shape synthetic prompts; OutputTokens
	// also caps a file prompt without max_tokens.
	PromptTokens, OutputTokens Lengths
}

// vocabulary: three-letter words and a space, four bytes each, which both a
// BPE tokenizer and the twin's simulator (one token per four bytes) count
// as one token. Random words keep the server's prefix cache from helping.
var vocabulary = strings.Fields("the cat sat one mat and dog ran far but sun set low red sky big sea old map new key")

// Next returns the i-th request; r must be the caller's own.
func (w *Workload) Next(i int, r *rand.Rand) Prompt {
	if len(w.Prompts) > 0 {
		p := w.Prompts[i%len(w.Prompts)]
		if p.MaxTokens == 0 && w.OutputTokens.Min > 0 {
			p.MaxTokens = w.OutputTokens.Draw(r)
		}
		return p
	}
	n := w.PromptTokens.Draw(r)
	var b strings.Builder
	b.Grow(4 * n)
	for j := range n {
		word := vocabulary[r.IntN(len(vocabulary))]
		if j == n-1 {
			b.WriteString(word + ".")
		} else {
			b.WriteString(word + " ")
		}
	}
	return Prompt{Text: b.String(), MaxTokens: w.OutputTokens.Draw(r)}
}
