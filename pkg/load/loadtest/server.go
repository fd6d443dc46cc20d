// Package loadtest is a small OpenAI-compatible streaming server on
// loopback for the load generator's tests and benchmark: it answers
// /v1/models and streams Tokens chunks per request, TokenDelay apart.
package loadtest

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// Server is the fake server.
type Server struct {
	// Models are listed by /v1/models (default "fake-model").
	Models []string
	// FirstDelay is the time before the first token; TokenDelay between
	// tokens. Zero: as fast as possible.
	FirstDelay, TokenDelay time.Duration
	// FlushEach flushes every chunk on its own, as a real server streams
	// (with a delay set, chunks are always flushed).
	FlushEach bool
	// Requests counts generation requests served.
	Requests atomic.Int64

	ln  net.Listener
	srv *http.Server
}

// Start serves on a free loopback port.
func (s *Server) Start() error {
	if len(s.Models) == 0 {
		s.Models = []string{"fake-model"}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	s.ln = ln
	s.srv = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	return nil
}

// URL is the server's base URL.
func (s *Server) URL() string { return "http://" + s.ln.Addr().String() }

// Close stops the server.
func (s *Server) Close() error { return s.srv.Close() }

// Handler serves the API.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/models", func(w http.ResponseWriter, _ *http.Request) {
		var data []any
		for _, m := range s.Models {
			data = append(data, map[string]any{"id": m, "object": "model"})
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": data})
	})
	mux.HandleFunc("POST /v1/completions", func(w http.ResponseWriter, r *http.Request) { s.generate(w, r, false) })
	mux.HandleFunc("POST /v1/chat/completions", func(w http.ResponseWriter, r *http.Request) { s.generate(w, r, true) })
	return mux
}

type genRequest struct {
	Model     string `json:"model"`
	MaxTokens int    `json:"max_tokens"`
	Stream    bool   `json:"stream"`
}

func (s *Server) generate(w http.ResponseWriter, r *http.Request, chat bool) {
	var g genRequest
	if err := json.NewDecoder(r.Body).Decode(&g); err != nil {
		http.Error(w, `{"object":"error","message":"invalid JSON"}`, http.StatusBadRequest)
		return
	}
	known := false
	for _, m := range s.Models {
		known = known || m == g.Model
	}
	if !known {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, `{"object":"error","message":"The model %s does not exist.","code":404}`, strconv.Quote(g.Model))
		return
	}
	s.Requests.Add(1)
	n := max(g.MaxTokens, 1)
	w.Header().Set("Content-Type", "text/event-stream")
	fl, _ := w.(http.Flusher)
	obj, field := "text_completion", `"text":"tok "`
	if chat {
		obj, field = "chat.completion.chunk", `"delta":{"content":"tok "}`
		fmt.Fprintf(w, "data: {\"object\":%q,\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n", obj)
	}
	sleep(s.FirstDelay)
	for i := range n {
		if i > 0 {
			sleep(s.TokenDelay)
		}
		fmt.Fprintf(w, "data: {\"object\":%q,\"choices\":[{\"index\":0,%s,\"finish_reason\":null}]}\n\n", obj, field)
		if fl != nil && (s.FlushEach || s.TokenDelay > 0 || s.FirstDelay > 0) {
			fl.Flush()
		}
	}
	fmt.Fprintf(w, "data: {\"object\":%q,\"choices\":[],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":%d}}\n\ndata: [DONE]\n\n", obj, n)
}

func sleep(d time.Duration) {
	if d > 0 {
		time.Sleep(d)
	}
}
