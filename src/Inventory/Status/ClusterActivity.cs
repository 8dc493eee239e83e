using Pipeline.Inventory.Commit;

namespace Pipeline.Inventory.Status;

/// <summary>What the database says the whole pipeline is doing, for the dashboard: the ledger's progress, the undecided
/// orders, the fence's refusals, the election history and the last decisions.</summary>
public sealed record ClusterActivity(
    DateTimeOffset At,
    long LedgerHighWater,
    long CommittedSince,
    long Undecided,
    DateTimeOffset? OldestUndecidedAt,
    long FenceRejections,
    IReadOnlyList<ElectionEvent> Elections,
    IReadOnlyList<RecentDecision> Decisions);

/// <summary>A leadership taken (<c>Kind</c> "led", with the cause and the leader before) or a commit refused by the fence
/// (<c>Kind</c> "fenced-off": the stale token, and the fence's token as <c>Previous</c>).</summary>
public sealed record ElectionEvent(DateTimeOffset At, string Kind, string NodeId, FenceToken Token, string Cause, string? Previous);

/// <summary>A decision in the ledger: which order, how, under which leader and token.</summary>
public sealed record RecentDecision(long CommitSeq, DateTimeOffset At, string OrderId, string Outcome, string? Reason, string NodeId, FenceToken Token);
