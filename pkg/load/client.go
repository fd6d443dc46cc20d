package load

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// Client sends OpenAI-compatible streaming requests and times them.
type Client struct {
	HTTP *http.Client
	// Model is the model name sent with every request.
	Model string
	// Chat uses /v1/chat/completions; otherwise /v1/completions.
	Chat bool
	// Timeout bounds one request (0: none beyond the context).
	Timeout time.Duration
}

// NewHTTPClient is an HTTP client for a load run: keep-alive connections,
// enough idle ones for every client in flight, no compression.
func NewHTTPClient(maxConns int) *http.Client {
	tr := &http.Transport{
		Proxy:               nil, // endpoints are local or port-forwarded
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        0,
		MaxIdleConnsPerHost: max(maxConns, 2),
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
		WriteBufferSize:     16 << 10,
		ReadBufferSize:      16 << 10,
	}
	return &http.Client{Transport: tr}
}

// Outcome is one request's result. Times are wall-clock.
type Outcome struct {
	Start time.Time
	// TTFT is the time to the first generated token; E2E to the end of the
	// stream.
	TTFT, E2E time.Duration
	// Tokens generated (the server's usage count when it sends one, else
	// the streamed chunks).
	Tokens int
	// Gaps between streamed chunks after the first (inter-token latency).
	Gaps []time.Duration
	// Kind is empty on success, else the error's kind (see ErrorKind).
	Kind string
	Err  error
	// Endpoint is the pod (or URL) that served it.
	Endpoint string
}

type request struct {
	Model         string         `json:"model"`
	Prompt        string         `json:"prompt,omitempty"`
	Messages      []Message      `json:"messages,omitempty"`
	MaxTokens     int            `json:"max_tokens,omitempty"`
	Stream        bool           `json:"stream"`
	StreamOptions map[string]any `json:"stream_options,omitempty"`
	// IgnoreEOS is vLLM's extension that makes it generate exactly
	// max_tokens, so runs are repeatable (vllm bench serve sets it too).
	IgnoreEOS bool `json:"ignore_eos,omitempty"`
}

var includeUsage = map[string]any{"include_usage": true}

// body encodes p as this client's request.
func (c *Client) body(p Prompt) ([]byte, error) {
	r := request{Model: c.Model, MaxTokens: p.MaxTokens, Stream: true, StreamOptions: includeUsage, IgnoreEOS: true}
	switch {
	case c.Chat && len(p.Messages) > 0:
		r.Messages = p.Messages
	case c.Chat:
		r.Messages = []Message{{Role: "user", Content: p.Text}}
	case len(p.Messages) > 0:
		var b strings.Builder
		for _, m := range p.Messages {
			b.WriteString(m.Content)
			b.WriteString("\n")
		}
		r.Prompt = b.String()
	default:
		r.Prompt = p.Text
	}
	return json.Marshal(r)
}

// Path is the API path requests go to.
func (c *Client) Path() string {
	if c.Chat {
		return "/v1/chat/completions"
	}
	return "/v1/completions"
}

// Error kinds.
const (
	KindConnect  = "connect"
	KindTimeout  = "timeout"
	KindStream   = "stream"
	KindServer   = "server-error"
	KindCanceled = "canceled"
)

// Do sends one streaming request to base (http://host:port) and reads the
// stream to its end. gaps is reused for Outcome.Gaps.
func (c *Client) Do(ctx context.Context, base string, p Prompt, gaps []time.Duration) Outcome {
	out := Outcome{Start: time.Now(), Gaps: gaps[:0]}
	fail := func(kind string, err error) Outcome {
		out.E2E = time.Since(out.Start)
		out.Kind, out.Err = kind, err
		return out
	}
	body, err := c.body(p)
	if err != nil {
		return fail(KindStream, err)
	}
	if c.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.Timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+c.Path(), bytes.NewReader(body))
	if err != nil {
		return fail(KindConnect, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return fail(ErrorKind(ctx, err), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return fail(fmt.Sprintf("http-%d", resp.StatusCode), fmt.Errorf("%s: %s", resp.Status, apiMessage(msg)))
	}
	br := bufio.NewReaderSize(resp.Body, 8<<10)
	var last time.Time
	chunks, usage := 0, -1
	for {
		line, err := br.ReadSlice('\n')
		if err != nil && !(errors.Is(err, io.EOF) && len(line) > 0) {
			if errors.Is(err, bufio.ErrBufferFull) {
				// A long line (a big chunk): read the rest of it.
				rest, err2 := br.ReadBytes('\n')
				if err2 != nil {
					return fail(ErrorKind(ctx, err2), err2)
				}
				line = append(append([]byte{}, line...), rest...)
			} else if errors.Is(err, io.EOF) {
				return fail(KindStream, errors.New("the stream ended without data: [DONE]"))
			} else {
				return fail(ErrorKind(ctx, err), err)
			}
		}
		data, ok := bytes.CutPrefix(line, []byte("data:"))
		if !ok {
			continue
		}
		data = bytes.TrimSpace(data)
		if string(data) == "[DONE]" {
			break
		}
		if bytes.HasPrefix(data, []byte(`{"error"`)) || bytes.HasPrefix(data, []byte(`{"object":"error"`)) {
			return fail(KindServer, fmt.Errorf("error in the stream: %s", apiMessage(data)))
		}
		if bytes.Contains(data, []byte(`"completion_tokens"`)) {
			var u struct {
				Usage *struct {
					CompletionTokens int `json:"completion_tokens"`
				} `json:"usage"`
			}
			if json.Unmarshal(data, &u) == nil && u.Usage != nil {
				usage = u.Usage.CompletionTokens
			}
		}
		if !hasToken(data) {
			continue
		}
		now := time.Now()
		if chunks == 0 {
			out.TTFT = now.Sub(out.Start)
		} else {
			out.Gaps = append(out.Gaps, now.Sub(last))
		}
		last = now
		chunks++
	}
	out.E2E = time.Since(out.Start)
	out.Tokens = chunks
	if usage >= 0 {
		out.Tokens = usage
	}
	if chunks == 0 {
		return fail(KindStream, errors.New("the stream carried no tokens"))
	}
	return out
}

// hasToken says whether an SSE chunk carries generated text: not the chat
// role preamble, not the usage-only chunk, not an empty delta.
func hasToken(data []byte) bool {
	if bytes.Contains(data, []byte(`"choices":[]`)) {
		return false
	}
	for _, empty := range [][]byte{[]byte(`"content":""`), []byte(`"text":""`)} {
		if bytes.Contains(data, empty) {
			return false
		}
	}
	return bytes.Contains(data, []byte(`"text"`)) || bytes.Contains(data, []byte(`"content"`))
}

// ErrorKind classifies a transport error.
func ErrorKind(ctx context.Context, err error) string {
	var ne net.Error
	var op *net.OpError
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
		return KindTimeout
	case ctx.Err() != nil || errors.Is(err, context.Canceled):
		return KindCanceled
	case errors.As(err, &op) && op.Op == "dial":
		return KindConnect
	}
	return KindStream
}

// apiMessage extracts an OpenAI error's message, else the body's first line.
func apiMessage(b []byte) string {
	var e struct {
		Message string `json:"message"`
		Error   *struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(b, &e) == nil {
		if e.Error != nil && e.Error.Message != "" {
			return e.Error.Message
		}
		if e.Message != "" {
			return e.Message
		}
	}
	s, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// Models asks base for /v1/models and returns the model ids. An endpoint
// that does not answer like an OpenAI server is an error saying so.
func Models(ctx context.Context, hc *http.Client, base string) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/models", nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach %s: %v", base, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	notOpenAI := func(why string) error {
		return fmt.Errorf("%s does not look like an OpenAI-compatible server (GET /v1/models %s): point --url or the target at the vLLM server", base, why)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, notOpenAI(fmt.Sprintf("answered %s", resp.Status))
	}
	var list struct {
		Object string `json:"object"`
		Data   []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(b, &list); err != nil || list.Data == nil {
		return nil, notOpenAI("did not return a model list")
	}
	ids := make([]string, 0, len(list.Data))
	for _, m := range list.Data {
		if m.ID != "" {
			ids = append(ids, m.ID)
		}
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("%s serves no model (GET /v1/models is empty): is the server still loading?", base)
	}
	return ids, nil
}

// PickModel returns want if listed, the only/first model when want is
// empty, or a one-line error naming the models served.
func PickModel(served []string, want, where string) (string, error) {
	if want == "" {
		return served[0], nil
	}
	for _, m := range served {
		if m == want {
			return m, nil
		}
	}
	return "", fmt.Errorf("model %q is not served by %s (it lists %s): pass one of those to --model, or leave --model out", want, where, strings.Join(served, ", "))
}
