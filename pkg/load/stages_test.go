package load

import (
	"strings"
	"testing"
	"time"
)

func TestParseStages(t *testing.T) {
	got, err := ParseStages("2x1m,8x2m, 16x90s,0x1m")
	if err != nil {
		t.Fatal(err)
	}
	want := []Stage{{2, 0, time.Minute}, {8, 0, 2 * time.Minute}, {16, 0, 90 * time.Second}, {0, 0, time.Minute}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("stage %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	if s := FormatStages(got); s != "2x1m,8x2m,16x1m30s,0x1m" {
		t.Errorf("FormatStages = %q", s)
	}
	if got[3].Name() != "pause" || got[0].Name() != "c=2" || (Stage{Rate: 2.5}).Name() != "rate=2.5/s" {
		t.Errorf("names: %q %q", got[3].Name(), got[0].Name())
	}
}

func TestParseStagesBad(t *testing.T) {
	for in, want := range map[string]string{
		"3x":      `step "3x" is not CONCURRENCYxDURATION`,
		"":        "--stages is empty",
		"x1m":     `step "x1m" is not`,
		"-1x1m":   `concurrency "-1" must be a whole number`,
		"2x1m,4":  `step "4" is not`,
		"2xsoon":  `duration "soon" must be positive`,
		"2x0s":    `duration "0s" must be positive`,
		"2.5x1m":  `concurrency "2.5"`,
		"2x1m,,3": `step "" is not`,
	} {
		_, err := ParseStages(in)
		if err == nil {
			t.Errorf("ParseStages(%q): no error", in)
			continue
		}
		if !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("ParseStages(%q) = %q, want one line containing %q", in, err, want)
		}
	}
}
