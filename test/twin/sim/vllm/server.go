package vllm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/infer-hpa/kubectl-infer-hpa/test/twin/sim/loopback"
)

// Server is one simulated vLLM server.
type Server struct {
	model   Model
	engine  *engine
	metrics *metrics
	ln      net.Listener
	srv     *http.Server
	created int64
	seq     atomic.Int64
}

// New builds a server for m; serve it with Handler or Start.
func New(m Model) (*Server, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	s := &Server{model: m, created: time.Now().Unix()}
	s.metrics = newMetrics(m, func() Stats { return s.engine.snapshot() })
	s.engine = newEngine(m, s.metrics)
	return s, nil
}

// Start builds a server and serves it on addr, which must be a loopback
// address (127.0.0.1:0 picks a free port).
func Start(m Model, addr string) (*Server, error) {
	s, err := New(m)
	if err != nil {
		return nil, err
	}
	if s.ln, err = loopback.Listen(addr); err != nil {
		s.engine.close()
		return nil, fmt.Errorf("vllm: %w", err)
	}
	s.srv = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(s.ln) }()
	return s, nil
}

// Addr is the host:port Start listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Model is the server's behaviour model.
func (s *Server) Model() Model { return s.model }

// Stats is a snapshot of the engine.
func (s *Server) Stats() Stats { return s.engine.snapshot() }

// Close stops serving and ends every request in flight.
func (s *Server) Close() error {
	var err error
	if s.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		s.engine.close() // ends streams so Shutdown does not wait for them
		err = s.srv.Shutdown(ctx)
		if errors.Is(err, context.DeadlineExceeded) {
			err = s.srv.Close()
		}
		return err
	}
	s.engine.close()
	return nil
}

// Handler serves vLLM's OpenAI-compatible API, /health and /metrics.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.HandleFunc("GET /v1/models", s.models)
	mux.HandleFunc("POST /v1/completions", func(w http.ResponseWriter, r *http.Request) { s.generate(w, r, false) })
	mux.HandleFunc("POST /v1/chat/completions", func(w http.ResponseWriter, r *http.Request) { s.generate(w, r, true) })
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{}))
	return mux
}

func (s *Server) models(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": []any{map[string]any{
		"id": s.model.Name, "object": "model", "created": s.created, "owned_by": "vllm",
		"root": s.model.Name, "parent": nil, "max_model_len": s.model.MaxModelLen,
	}}})
}

// genRequest holds the fields of a completions or chat request the
// simulator uses.
type genRequest struct {
	Model     string          `json:"model"`
	Prompt    json.RawMessage `json:"prompt"`
	Messages  []chatMessage   `json:"messages"`
	MaxTokens *int            `json:"max_tokens"`
	// MaxCompletionTokens is the newer chat name for max_tokens.
	MaxCompletionTokens *int `json:"max_completion_tokens"`
	Stream              bool `json:"stream"`
}

type chatMessage struct {
	Role    string `json:"role"`
	Content any    `json:"content"`
}

// promptText flattens the prompt or the messages.
func (g *genRequest) promptText(chat bool) (string, error) {
	if chat {
		if len(g.Messages) == 0 {
			return "", errors.New("messages must not be empty")
		}
		var b strings.Builder
		for _, m := range g.Messages {
			fmt.Fprintf(&b, "<%s>%v", m.Role, m.Content)
		}
		return b.String(), nil
	}
	var one string
	if err := json.Unmarshal(g.Prompt, &one); err == nil {
		return one, nil
	}
	var many []string
	if err := json.Unmarshal(g.Prompt, &many); err == nil && len(many) > 0 {
		return strings.Join(many, ""), nil
	}
	return "", errors.New("prompt must be a string or a list of strings")
}

func (s *Server) generate(w http.ResponseWriter, r *http.Request, chat bool) {
	var g genRequest
	if err := json.NewDecoder(r.Body).Decode(&g); err != nil {
		apiError(w, http.StatusBadRequest, "BadRequestError", "invalid JSON: "+err.Error())
		return
	}
	if g.Model != s.model.Name {
		apiError(w, http.StatusNotFound, "NotFoundError", fmt.Sprintf("The model `%s` does not exist.", g.Model))
		return
	}
	text, err := g.promptText(chat)
	if err != nil {
		apiError(w, http.StatusBadRequest, "BadRequestError", err.Error())
		return
	}
	maxTokens := s.model.DefaultMaxTokens
	for _, p := range []*int{g.MaxTokens, g.MaxCompletionTokens} {
		if p != nil {
			maxTokens = *p
		}
	}
	if maxTokens < 1 {
		apiError(w, http.StatusBadRequest, "BadRequestError", "max_tokens must be at least 1")
		return
	}
	prompt := PromptTokens(text)
	req, err := s.engine.submit(prompt, maxTokens)
	if err != nil {
		apiError(w, http.StatusBadRequest, "BadRequestError", fmt.Sprintf(
			"This model's maximum context length is %d tokens. However, you requested %d tokens (%d in the messages, %d in the completion).",
			min(s.model.MaxModelLen, s.model.KVCacheTokens), prompt+maxTokens, prompt, maxTokens))
		return
	}
	c := completion{id: fmt.Sprintf("%s-%d", map[bool]string{false: "cmpl", true: "chatcmpl"}[chat], s.seq.Add(1)),
		created: time.Now().Unix(), model: s.model.Name, chat: chat, prompt: prompt}
	if g.Stream {
		s.stream(w, r.Context(), req, &c)
		return
	}
	if err := s.engine.wait(r.Context(), req); err != nil {
		if r.Context().Err() == nil {
			apiError(w, http.StatusServiceUnavailable, "ServiceUnavailableError", err.Error())
		}
		return
	}
	writeJSON(w, http.StatusOK, c.full(req.maxTokens))
}

// stream sends one SSE event per generated token, then [DONE].
func (s *Server) stream(w http.ResponseWriter, ctx context.Context, req *request, c *completion) {
	flusher, _ := w.(http.Flusher)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	send := func(v any) bool {
		b, _ := json.Marshal(v)
		if _, err := fmt.Fprintf(w, "data: %s\n\n", b); err != nil {
			return false
		}
		if flusher != nil {
			flusher.Flush()
		}
		return true
	}
	if c.chat && !send(c.chunk(-1, false)) {
		s.engine.abort(req)
		return
	}
	sent := 0
	for sent < req.maxTokens {
		select {
		case n := <-req.tokens:
			for ; sent < n; sent++ {
				if !send(c.chunk(sent, sent == req.maxTokens-1)) {
					s.engine.abort(req)
					return
				}
			}
		case <-req.done:
			if len(req.tokens) == 0 {
				return // aborted or shut down
			}
		case <-ctx.Done():
			s.engine.abort(req)
			return
		}
	}
	fmt.Fprint(w, "data: [DONE]\n\n")
	if flusher != nil {
		flusher.Flush()
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// apiError answers like vLLM's OpenAI server.
func apiError(w http.ResponseWriter, code int, typ, msg string) {
	writeJSON(w, code, map[string]any{"object": "error", "message": msg, "type": typ, "param": nil, "code": code})
}
