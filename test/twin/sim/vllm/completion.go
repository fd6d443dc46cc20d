package vllm

import "strings"

// words make the generated text: token i is words[i%len(words)] and a space.
var words = strings.Fields("the quick brown fox jumps over a lazy dog while simulated GPUs hum along")

func token(i int) string { return words[i%len(words)] + " " }

func text(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(token(i))
	}
	return b.String()
}

// completion renders OpenAI response bodies for one request.
type completion struct {
	id      string
	created int64
	model   string
	chat    bool
	prompt  int
}

func (c *completion) object(chunk bool) string {
	switch {
	case c.chat && chunk:
		return "chat.completion.chunk"
	case c.chat:
		return "chat.completion"
	}
	return "text_completion"
}

func (c *completion) envelope(chunk bool, choice map[string]any) map[string]any {
	return map[string]any{"id": c.id, "object": c.object(chunk), "created": c.created, "model": c.model,
		"choices": []any{choice}}
}

// full is the non-streaming answer with n generated tokens.
func (c *completion) full(n int) map[string]any {
	choice := map[string]any{"index": 0, "finish_reason": "length", "logprobs": nil}
	if c.chat {
		choice["message"] = map[string]any{"role": "assistant", "content": text(n)}
	} else {
		choice["text"] = text(n)
	}
	out := c.envelope(false, choice)
	out["usage"] = map[string]any{"prompt_tokens": c.prompt, "completion_tokens": n, "total_tokens": c.prompt + n}
	return out
}

// chunk is the SSE event for token i (i < 0: the chat role preamble).
func (c *completion) chunk(i int, last bool) map[string]any {
	var finish any
	if last {
		finish = "length"
	}
	choice := map[string]any{"index": 0, "finish_reason": finish, "logprobs": nil}
	switch {
	case c.chat && i < 0:
		choice["delta"] = map[string]any{"role": "assistant", "content": ""}
	case c.chat:
		choice["delta"] = map[string]any{"content": token(i)}
	default:
		choice["text"] = token(i)
	}
	return c.envelope(true, choice)
}
