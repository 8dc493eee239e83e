using Pipeline.Inventory.Commit;

namespace Pipeline.OrderService.Commit;

/// <summary>
/// What this replica last learned from the fence, and how long it waits before it stands again after a refusal. A refusal
/// is normal once: a woken ex-leader's token is older than its successor's, and it rejoins behind it. Repeated refusals
/// mean something else; when the fence's generation is above our election's (the ZooKeeper ensemble rebuilt from empty
/// data, the election path moved), no candidate of this election can ever pass it: the replica is <see cref="Snapshot.Blocked"/>,
/// readiness turns red, and only an operator's fence reset (the <c>fence-reset</c> verb) ends it. Consecutive refusals back
/// off exponentially either way, so the churn of candidates taking turns against the fence stays bounded.
/// </summary>
public sealed class FenceStatus
{
    private static readonly TimeSpan BlockedFirstDelay = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan BlockedMaxDelay = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan StaleFirstDelay = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan StaleMaxDelay = TimeSpan.FromSeconds(10);
    private readonly Lock gate = new();
    private Snapshot current = new(false, null, null, 0, null, null);

    /// <summary>The fence as last seen: refused tokens in a row, ours and the fence's, and when we stand again.</summary>
    public sealed record Snapshot(bool Blocked, FenceToken? OurToken, FenceToken? FenceToken, int ConsecutiveRefusals, DateTimeOffset? RefusedSince, DateTimeOffset? NextAttemptAt)
    {
        /// <summary>Why nobody can commit, for readiness and /status; null unless blocked.</summary>
        public string? Reason => Blocked
            ? $"the fence holds token {FenceToken}, above every token this election can give (generation {OurToken?.Generation}): no replica can commit until an operator runs fence-reset"
            : null;
    }

    public Snapshot Current
    {
        get
        {
            lock (gate)
            {
                return current;
            }
        }
    }

    /// <summary>Records a refusal of <paramref name="ours"/> by a fence at <paramref name="fence"/>; returns how long to stay
    /// out of the election and whether this refusal changed what we know (so it is logged once, not on every retry).</summary>
    public (TimeSpan Delay, bool Changed) Refused(FenceToken ours, FenceToken fence)
    {
        lock (gate)
        {
            if (current.ConsecutiveRefusals > 0 && current.OurToken == ours && current.FenceToken == fence)
            {
                // Another batch of the same leadership refused by the same fence: one refusal, not a new one.
                var remaining = current.NextAttemptAt - DateTimeOffset.UtcNow;
                return (remaining > TimeSpan.Zero ? remaining.Value : TimeSpan.Zero, false);
            }

            var blocked = fence.Generation > ours.Generation;
            var refusals = current.ConsecutiveRefusals + 1;
            var delay = blocked ? Backoff(BlockedFirstDelay, BlockedMaxDelay, refusals - 1) : refusals <= 1 ? TimeSpan.Zero : Backoff(StaleFirstDelay, StaleMaxDelay, refusals - 2);
            var changed = current.Blocked != blocked || current.FenceToken != fence || current.OurToken?.Generation != ours.Generation;
            var now = DateTimeOffset.UtcNow;
            current = new Snapshot(blocked, ours, fence, refusals, current.RefusedSince ?? now, now + delay);
            return (delay, changed);
        }
    }

    /// <summary>The fence took our token: whatever blocked us is over.</summary>
    public bool Acquired(FenceToken ours)
    {
        lock (gate)
        {
            var wasRefused = current.ConsecutiveRefusals > 0;
            current = new Snapshot(false, ours, ours, 0, null, null);
            return wasRefused;
        }
    }

    /// <summary>The fence was seen below our election's generation again (an operator reset it): no longer blocked. The
    /// replica learns it here even when it is not the one that takes the fence next.</summary>
    public void Unblocked()
    {
        lock (gate)
        {
            current = current with { Blocked = false };
        }
    }

    private static TimeSpan Backoff(TimeSpan first, TimeSpan max, int doublings)
    {
        var delay = first * Math.Pow(2, Math.Min(doublings, 16));
        var jittered = delay * (0.8 + (Random.Shared.NextDouble() * 0.4));
        return jittered < max ? jittered : max;
    }
}
