namespace Pipeline.ZooKeeper.Recipes;

/// <summary>Why this candidate became the leader, as far as it can tell.</summary>
public enum SuccessionCause
{
    /// <summary>No leader was seen directly ahead of ours (the first, one that joined an empty election, or a chain ahead of
    /// us that went all at once).</summary>
    First,

    /// <summary>The previous leader resigned or stopped, deleting its node itself.</summary>
    Graceful,

    /// <summary>The previous leader's crash signal was released while its node was still the lowest; a standby deleted it.</summary>
    CrashSignal,

    /// <summary>The previous leader's node went without a word from anyone: its session expired.</summary>
    SessionExpired,

    /// <summary>Our own node, led again with the same token after a lost connection.</summary>
    Resumed,
}

/// <summary>One entry of a candidate's election history: a lease granted (with the cause and the leader before it) or
/// ended (with the reason), or a leader deleted on its crash signal.</summary>
public sealed record ElectionHistoryEntry(DateTimeOffset At, string Event, FencingToken? Token, string? Previous, string Detail);
