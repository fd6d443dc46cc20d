package watch

// ReplicaGoal decides when `--until-replicas N` is met. The direction comes
// from the first snapshot with an HPA: starting below N it waits for at
// least N current replicas, starting above N for at most N.
type ReplicaGoal struct {
	N       int32
	started bool
	down    bool
}

// Reached reports whether s meets the goal.
func (g *ReplicaGoal) Reached(s Snapshot) bool {
	if s.HPA == nil {
		return false
	}
	cur := s.HPA.CurrentReplicas
	if !g.started {
		g.started, g.down = true, cur > g.N
	}
	if g.down {
		return cur <= g.N
	}
	return cur >= g.N
}
