package gcp

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/identity"
)

// numberVar stands for the project number in printed commands when the
// Config does not carry it.
const numberVar = "${PROJECT_NUMBER}"

// GcloudArgs returns the gcloud invocations (argv without "gcloud") that do
// what Ensure does for cfg. Principal mode needs cfg.ProjectNumber here.
func GcloudArgs(cfg identity.Config) [][]string {
	cfg = cfg.WithDefaults()
	return gcloudArgs(cfg, fmt.Sprint(cfg.ProjectNumber), "add-iam-policy-binding")
}

func gcloudArgs(cfg identity.Config, number, verb string) [][]string {
	project := "--project=" + cfg.ProjectID
	bind := func(args ...string) []string {
		return append(append(args, "--condition=None"), project)
	}
	switch cfg.Mode {
	case identity.ModePrincipal:
		return [][]string{bind("projects", verb, cfg.ProjectID,
			"--role="+RoleMonitoringViewer, "--member="+cfg.PrincipalMemberOf(number))}
	case identity.ModeGSA:
		saBinding := bind("iam", "service-accounts", verb, cfg.GSAEmail(),
			"--role="+RoleWorkloadIdentityUser, "--member="+cfg.KSAMember())
		projectBinding := bind("projects", verb, cfg.ProjectID,
			"--role="+RoleMonitoringViewer, "--member="+cfg.GSAMember())
		if verb == "remove-iam-policy-binding" {
			return [][]string{projectBinding, saBinding}
		}
		create := []string{"iam", "service-accounts", "create", cfg.GSAName,
			"--display-name=" + gsaDisplayName, "--description=" + gsaDescription, project}
		return [][]string{create, saBinding, projectBinding}
	}
	return nil
}

// GcloudCommands returns the shell commands equivalent to Ensure, for
// --print-gcloud: what a user who may not let a tool touch IAM runs (or has
// an administrator run) instead. In principal mode without a project number
// the first line looks it up into $PROJECT_NUMBER. Mode none gives nothing.
func GcloudCommands(cfg identity.Config) []string {
	return render(cfg, "add-iam-policy-binding")
}

// GcloudRemoveCommands is GcloudCommands for cleanup.
func GcloudRemoveCommands(cfg identity.Config) []string {
	return render(cfg, "remove-iam-policy-binding")
}

func render(cfg identity.Config, verb string) []string {
	cfg = cfg.WithDefaults()
	number := fmt.Sprint(cfg.ProjectNumber)
	var out []string
	if cfg.Mode == identity.ModePrincipal && cfg.ProjectNumber == 0 {
		number = numberVar
		out = append(out, fmt.Sprintf("PROJECT_NUMBER=$(gcloud projects describe %s --format='value(projectNumber)')", shellQuote(cfg.PoolProject())))
	}
	for _, args := range gcloudArgs(cfg, number, verb) {
		q := make([]string, len(args))
		for i, a := range args {
			q[i] = shellQuote(a)
		}
		out = append(out, "gcloud "+strings.Join(q, " "))
	}
	return out
}

var shellSafe = regexp.MustCompile(`^[A-Za-z0-9_@%+=:,./-]+$`)

// shellQuote quotes a word for POSIX shells; a word carrying $PROJECT_NUMBER
// is double-quoted so the shell expands it.
func shellQuote(s string) string {
	if shellSafe.MatchString(s) {
		return s
	}
	if strings.Contains(s, numberVar) && !strings.ContainsAny(strings.ReplaceAll(s, numberVar, ""), "\"\\`$") {
		return `"` + s + `"`
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
