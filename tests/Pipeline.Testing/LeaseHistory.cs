using System.Collections.Concurrent;
using System.Diagnostics;
using Pipeline.ZooKeeper.Recipes;

namespace Pipeline.Testing;

/// <summary>One lease as a history records it: who held which token from when to when (Stopwatch timestamps).
/// <see cref="EndedExternally"/> is when something outside the holder ended it first (its node deleted by hand), if earlier.</summary>
public sealed record LeaseRecord(string NodeId, string Znode, FencingToken Token, long Granted, long? Revoked, long? EndedExternally = null)
{
    /// <summary>The end of the lease's validity: its revocation or the external end, whichever came first; null while it holds.</summary>
    public long? End => (Revoked, EndedExternally) switch
    {
        (null, null) => null,
        (null, var e) => e,
        (var r, null) => r,
        var (r, e) => Math.Min(r!.Value, e!.Value),
    };
}

/// <summary>
/// Records every lease the candidates of a test are granted, and checks the history: no two unrevoked leases at any instant,
/// and tokens never go backwards in grant order (a leader is always the lowest live node, so a later leader's token is
/// never smaller; an equal token is the same node leading again after a suspension).
/// </summary>
public sealed class LeaseHistory
{
    private readonly ConcurrentDictionary<LeadershipLease, long?> externalEnds = new();

    /// <summary>Follows <paramref name="candidate"/>'s changes until it stops, recording its leases.</summary>
    public Task FollowAsync(ElectionCandidate candidate) => Task.Run(async () =>
    {
        await foreach (var change in candidate.WatchChangesAsync().ConfigureAwait(false))
        {
            Record(change);
        }
    });

    /// <summary>Records the lease of <paramref name="change"/> when it is a grant, for callers that read the changes themselves.</summary>
    public void Record(LeadershipChange change)
    {
        ArgumentNullException.ThrowIfNull(change);
        if (change is { State: ElectionState.Leader, Lease: { } lease })
        {
            externalEnds.TryAdd(lease, null);
        }
    }

    /// <summary>Notes that <paramref name="lease"/> was ended from outside at <paramref name="timestamp"/> (e.g. its node deleted by hand).</summary>
    public void EndedExternally(LeadershipLease lease, long timestamp) => externalEnds[lease] = timestamp;

    public IReadOnlyList<LeaseRecord> Records => [.. externalEnds
        .Select(e => new LeaseRecord(e.Key.NodeId, e.Key.Znode, e.Key.Token, e.Key.GrantedTimestamp, e.Key.RevokedTimestamp == 0 ? null : e.Key.RevokedTimestamp, e.Value))
        .OrderBy(r => r.Granted)];

    /// <summary>The violations in <paramref name="records"/>; empty when the history is safe.</summary>
    public static IReadOnlyList<string> Check(IReadOnlyList<LeaseRecord> records)
    {
        var problems = new List<string>();
        var ordered = records.OrderBy(r => r.Granted).ToList();
        for (var i = 0; i < ordered.Count; i++)
        {
            for (var j = i + 1; j < ordered.Count; j++)
            {
                var (a, b) = (ordered[i], ordered[j]);
                if (a.End is not { } end || end > b.Granted)
                {
                    problems.Add($"overlap: {Describe(a)} still held when {Describe(b)} was granted");
                }
            }

            if (i > 0)
            {
                var previous = ordered.Take(i).MaxBy(r => r.Token)!;
                var current = ordered[i];
                if (current.Token < previous.Token)
                {
                    problems.Add($"token went backwards: {Describe(current)} after {Describe(previous)}");
                }
                else if (current.Token == previous.Token && (current.NodeId != previous.NodeId || current.Znode != previous.Znode))
                {
                    problems.Add($"one token, two holders: {Describe(current)} and {Describe(previous)}");
                }
            }
        }

        return problems;
    }

    private static string Describe(LeaseRecord r) =>
        $"{r.NodeId} {r.Token} [{Ms(r.Granted)} .. {(r.End is { } e ? Ms(e) : "open")}] ms";

    private static string Ms(long timestamp) => (timestamp * 1000.0 / Stopwatch.Frequency).ToString("F1", System.Globalization.CultureInfo.InvariantCulture);
}
