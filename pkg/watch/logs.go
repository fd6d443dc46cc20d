package watch

import (
	"bufio"
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// errorLine matches adapter log lines worth highlighting: klog error lines,
// permission problems (Workload Identity / IAM), missing metrics and OOM kills.
var errorLine = regexp.MustCompile(`(?i)^E\d{4} |\b(403|404|permission[ _]?denied|forbidden|not ?found|oomkilled|error|failed|panic)\b`)

// IsErrorLine reports whether an adapter log line should be highlighted.
func IsErrorLine(s string) bool { return errorLine.MatchString(s) }

// logBuffer keeps the newest lines of all tailed pods.
type logBuffer struct {
	mu    sync.Mutex
	max   int
	seq   uint64
	lines []LogLine
	err   string
}

func (b *logBuffer) add(t time.Time, pod, text string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.seq++
	b.lines = appendBounded(b.lines, LogLine{Seq: b.seq, Time: t, Pod: pod, Text: text, Error: IsErrorLine(text)}, b.max)
}

func (b *logBuffer) setErr(s string) {
	b.mu.Lock()
	b.err = s
	b.mu.Unlock()
}

func (b *logBuffer) snapshot() ([]LogLine, string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]LogLine(nil), b.lines...), b.err
}

// tailer follows one pod's log. When the stream ends (the container
// restarted, the apiserver closed it) it reopens with sinceTime set to the
// last line it saw, skipping lines it already has.
type tailer struct {
	client    kubernetes.Interface
	namespace string
	pod       string
	since     time.Duration
	buf       *logBuffer
	notify    func()
	backoff   time.Duration
}

func (t *tailer) run(ctx context.Context) {
	var last time.Time
	seenAtLast := map[string]bool{}
	wait := t.backoff
	for ctx.Err() == nil {
		opts := &corev1.PodLogOptions{Follow: true, Timestamps: true}
		if last.IsZero() {
			if t.since > 0 {
				s := int64(t.since.Seconds())
				opts.SinceSeconds = &s
			} else {
				tail := int64(50)
				opts.TailLines = &tail
			}
		} else {
			st := metav1.NewTime(last)
			opts.SinceTime = &st
		}
		stream, err := t.client.CoreV1().Pods(t.namespace).GetLogs(t.pod, opts).Stream(ctx)
		if err != nil {
			t.buf.setErr(describeLogError(err, t.namespace, t.pod))
			t.notify()
		} else {
			t.buf.setErr("")
			sc := bufio.NewScanner(stream)
			sc.Buffer(make([]byte, 64*1024), 1024*1024)
			for sc.Scan() {
				ts, text := splitTimestamp(sc.Text())
				if !ts.IsZero() {
					// sinceTime has second resolution: drop lines we already hold.
					if ts.Before(last) || (ts.Equal(last) && seenAtLast[text]) {
						continue
					}
					if !ts.Equal(last) {
						last, seenAtLast = ts, map[string]bool{}
					}
					seenAtLast[text] = true
				}
				t.buf.add(ts, t.pod, text)
				t.notify()
				wait = t.backoff
			}
			_ = stream.Close()
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		if wait < 10*time.Second {
			wait *= 2
		}
	}
}

// splitTimestamp splits the RFC3339Nano prefix that Timestamps: true adds.
func splitTimestamp(line string) (time.Time, string) {
	ts, rest, ok := strings.Cut(line, " ")
	if !ok {
		ts, rest = line, ""
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return time.Time{}, line
	}
	return t, rest
}

func describeLogError(err error, namespace, pod string) string {
	if apierrors.IsForbidden(err) {
		return fmt.Sprintf("forbidden: no RBAC to get pods/log in %s (adapter log hidden)", namespace)
	}
	return fmt.Sprintf("log of %s/%s: %v (retrying)", namespace, pod, err)
}
