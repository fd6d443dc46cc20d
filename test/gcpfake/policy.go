package gcpfake

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

var (
	roleRE = regexp.MustCompile(`^(roles/[A-Za-z0-9_.]+|(projects|organizations)/[^/]+/roles/[A-Za-z0-9_.]+)$`)
	// principalRE matches a Workload Identity Federation for GKE principal.
	principalRE = regexp.MustCompile(`^principal://iam\.googleapis\.com/projects/([0-9]+)/locations/global/workloadIdentityPools/([^/]+)/subject/(.+)$`)
	// ksaMemberRE matches the legacy serviceAccount:POOL[ns/name] member.
	ksaMemberRE = regexp.MustCompile(`^serviceAccount:([a-z0-9.:-]+\.svc\.id\.goog)\[([^/\]]+)/([^\]]+)\]$`)
)

func hasConditions(p *Policy) bool {
	for _, b := range p.Bindings {
		if b.Condition != nil {
			return true
		}
	}
	return false
}

// normalize merges bindings with the same role and condition, sorts and
// de-duplicates members and drops empty bindings, as IAM does on write.
func normalize(bs []Binding) []Binding {
	var out []Binding
	for _, b := range bs {
		if len(b.Members) == 0 {
			continue
		}
		i := slices.IndexFunc(out, func(o Binding) bool { return o.Role == b.Role && sameExpr(o.Condition, b.Condition) })
		if i < 0 {
			out = append(out, Binding{Role: b.Role, Condition: b.Condition})
			i = len(out) - 1
		}
		out[i].Members = append(out[i].Members, b.Members...)
	}
	for i := range out {
		slices.Sort(out[i].Members)
		out[i].Members = slices.Compact(out[i].Members)
	}
	slices.SortStableFunc(out, func(a, b Binding) int { return strings.Compare(a.Role, b.Role) })
	return out
}

func sameExpr(a, b *Expr) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

// asVersion returns the policy as a reader asking for version v sees it: a
// version below 3 of a conditional policy carries no conditions and marks
// the conditional roles "_withcond_<hash>", as IAM does.
func asVersion(p Policy, v int) Policy {
	out := p
	out.Bindings = nil
	out.Version = 1
	if hasConditions(&p) {
		out.Version = 3
	}
	for _, b := range p.Bindings {
		b.Members = slices.Clone(b.Members)
		if b.Condition != nil && v < 3 {
			sum := sha256.Sum256([]byte(b.Condition.Expression + "\x00" + b.Condition.Title))
			b.Role = b.Role + "_withcond_" + hex.EncodeToString(sum[:10])
			b.Condition = nil
			out.Version = 1
		}
		out.Bindings = append(out.Bindings, b)
	}
	return out
}

// checkPolicy validates a policy a client wants to write on top of stored.
// memberOK validates each member in the context of the resource.
func checkPolicy(in, stored *Policy, memberOK func(string) *apiError) *apiError {
	if in.Version > 3 || in.Version < 0 {
		return invalidArgument(fmt.Sprintf("Invalid policy version: %d.", in.Version))
	}
	if in.Version < 3 && (hasConditions(in) || hasConditions(stored)) {
		return invalidArgument("Policy version must be 3 to set a policy that contains or replaces conditional role bindings; set policy.version to 3.")
	}
	for _, b := range in.Bindings {
		if strings.Contains(b.Role, "_withcond_") || !roleRE.MatchString(b.Role) {
			return invalidArgument(fmt.Sprintf("Role (%s) does not exist in the resource's hierarchy.", b.Role))
		}
		if b.Condition != nil && strings.TrimSpace(b.Condition.Expression) == "" {
			return invalidArgument("Condition expression must not be empty.")
		}
		for _, m := range b.Members {
			if err := memberOK(m); err != nil {
				return err
			}
		}
	}
	return nil
}

// memberSyntaxOK checks the member forms IAM accepts.
func memberSyntaxOK(m string) *apiError {
	switch {
	case m == "allUsers" || m == "allAuthenticatedUsers":
		return nil
	case strings.HasPrefix(m, "principal://") || strings.HasPrefix(m, "principalSet://"):
		return nil
	}
	kind, rest, ok := strings.Cut(m, ":")
	if ok && rest != "" {
		switch kind {
		case "user", "group", "serviceAccount", "domain", "deleted":
			return nil
		}
	}
	return invalidArgument(fmt.Sprintf("Invalid member type for member: %s. Valid member types are user, group, domain, serviceAccount, principal, principalSet.", m))
}
