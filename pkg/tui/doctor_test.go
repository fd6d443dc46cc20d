package tui

import (
	"strings"
	"testing"
)

// doctor's verdict shows in the header; d opens its table and esc closes it.
func TestDoctorVerdictAndTable(t *testing.T) {
	m := newModel(120, 40)
	send(m, failingMetric())
	press(m, "d") // nothing to open before doctor has run
	if strings.Contains(text(m), "doctor — press d") {
		t.Fatal("d opened an empty doctor view")
	}
	m.Update(DoctorMsg{Verdict: "doctor: 1 failure — adapter: 403 Permission monitoring.timeSeries.list denied",
		Table: "[FAIL] adapter/log: 403 Permission monitoring.timeSeries.list denied\n       fix: see the identity checks", Failures: 1})
	screen := text(m)
	if !strings.Contains(screen, "! doctor: 1 failure — adapter: 403") {
		t.Errorf("header lacks the verdict:\n%s", screen)
	}
	press(m, "d")
	if s := text(m); !strings.Contains(s, "doctor — press d or esc to close") || !strings.Contains(s, "[FAIL] adapter/log") {
		t.Errorf("d did not open the table:\n%s", s)
	}
	press(m, "esc")
	if strings.Contains(text(m), "[FAIL] adapter/log") {
		t.Error("esc did not close the table")
	}
}
