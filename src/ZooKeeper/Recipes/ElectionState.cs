namespace Pipeline.ZooKeeper.Recipes;

/// <summary>Where a candidate stands.</summary>
public enum ElectionState
{
    /// <summary>Not started, or rejoining.</summary>
    Idle,

    /// <summary>In the election with a node, waiting for our predecessor to go.</summary>
    Candidate,

    /// <summary>Our node is the lowest and owned by our session: a lease is out.</summary>
    Leader,

    /// <summary>Connection lost while leading: the lease is cancelled; we may lead again with the same token if the session survives.</summary>
    Suspended,

    /// <summary>Session expired (or our node was deleted): leadership is gone for good; a new session and node follow.</summary>
    Lost,

    /// <summary>Disposed.</summary>
    Stopped,

    /// <summary>Cannot take part now (ZooKeeper unreachable, our identity refused, an unexpected error): no lease; the
    /// candidate retries with backoff and goes back to Candidate or Leader when it succeeds. See
    /// <see cref="ElectionCandidate.FailureReason"/>.</summary>
    Failed,
}

/// <summary>A step in a candidate's life, in order. <see cref="Lease"/> is the new lease for <see cref="ElectionState.Leader"/>,
/// the ended one otherwise (if there was one).</summary>
public sealed record LeadershipChange(ElectionState State, LeadershipLease? Lease, string Reason, DateTimeOffset At);
