using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Pipeline.ZooKeeper.Recipes;

/// <summary>A candidate's instruments on the meter <c>Pipeline.Election</c>, tagged with its node id.</summary>
internal sealed class ElectionMetrics : IDisposable
{
    public const string MeterName = "Pipeline.Election";

    /// <summary>Seconds: a connection back within a fraction of the session timeout, up to sessions lost and a minute's wait.</summary>
    private static readonly double[] SuspendedBoundaries = [0.05, 0.1, 0.25, 0.5, 1, 2, 4, 6, 8, 10, 15, 20, 30, 60];

    private readonly Meter meter;
    private readonly Counter<long> changes;
    private readonly Counter<long> sessionsLost;
    private readonly Histogram<double> suspended;
    private readonly Counter<long> foreignNodes;
    private readonly Counter<long> successions;
    private readonly KeyValuePair<string, object?> node;
    private long suspendedSince;

    public ElectionMetrics(ElectionCandidate candidate)
    {
        meter = new Meter(MeterName);
        node = new KeyValuePair<string, object?>("node_id", candidate.NodeId);
        meter.CreateObservableGauge("election.is_leader", () => new Measurement<int>(candidate.CurrentLease is null ? 0 : 1, node), "{bool}", "1 while this candidate holds an unrevoked lease");
        meter.CreateObservableGauge("election.token.generation", () => new Measurement<long>(candidate.CurrentLease?.Token.Generation ?? 0, node), null, "Generation of the held token");
        meter.CreateObservableGauge("election.token.sequence", () => new Measurement<long>(candidate.CurrentLease?.Token.Sequence ?? 0, node), null, "Sequence of the held token");
        meter.CreateObservableGauge("election.is_failed", () => new Measurement<int>(candidate.State == ElectionState.Failed ? 1 : 0, node), "{bool}", "1 while the candidate cannot take part (see its FailureReason) and retries");
        changes = meter.CreateCounter<long>("election.leadership.changes", "{change}", "Leases granted and ended");
        sessionsLost = meter.CreateCounter<long>("election.sessions.lost", "{session}", "ZooKeeper sessions that ended under the candidate");
        suspended = meter.CreateHistogram<double>("election.suspended.duration", "s", "From a lease lost to a connection problem to the next lease",
            tags: null, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = SuspendedBoundaries });
        meter.CreateObservableGauge("election.foreign_nodes", () => new Measurement<int>(candidate.ForeignNodes.Count, node), "{node}", "Nodes in the election path that are no candidate's (not ephemeral, or not named as election nodes): ignored, to be deleted");
        foreignNodes = meter.CreateCounter<long>("election.foreign_nodes.seen", "{node}", "Foreign nodes found in the election path, each counted once");
        successions = meter.CreateCounter<long>("election.successions", "{succession}", "Leaderships this candidate took, by cause: first, graceful, crash-signal, session-expired, resumed");

        // Exported from the start, at 0: a rate or an increase over a series that appears only with its first event misses that event.
        sessionsLost.Add(0, node);
        foreach (var cause in Enum.GetValues<SuccessionCause>())
        {
            successions.Add(0, node, new KeyValuePair<string, object?>("cause", ElectionCandidate.Describe(cause)));
        }
    }

    public void LeaseGranted(LeadershipLease lease)
    {
        changes.Add(1, node, new KeyValuePair<string, object?>("change", "granted"));
        var since = Interlocked.Exchange(ref suspendedSince, 0);
        if (since != 0)
        {
            suspended.Record(Stopwatch.GetElapsedTime(since).TotalSeconds, node);
        }
    }

    public void LeaseEnded(LeadershipLease lease)
    {
        changes.Add(1, node, new KeyValuePair<string, object?>("change", "ended"));
        if (lease.RevokedBecause?.StartsWith("ZooKeeper", StringComparison.Ordinal) == true)
        {
            Interlocked.CompareExchange(ref suspendedSince, Stopwatch.GetTimestamp(), 0);
        }
    }

    public void Succession(SuccessionCause cause) => successions.Add(1, node, new KeyValuePair<string, object?>("cause", ElectionCandidate.Describe(cause)));

    public void SessionLost() => sessionsLost.Add(1, node);

    public void ForeignNodeSeen() => foreignNodes.Add(1, node);

    public void Dispose() => meter.Dispose();
}
