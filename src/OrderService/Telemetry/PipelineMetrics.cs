using System.Diagnostics.Metrics;
using Pipeline.Contracts;
using Pipeline.Inventory.Commit;
using Pipeline.ZooKeeper.Recipes;

namespace Pipeline.OrderService.Telemetry;

/// <summary>The service's instruments (meter <c>Pipeline</c>) and the in-memory counts that /status shows.</summary>
public sealed class PipelineMetrics : IDisposable
{
    public const string MeterName = "Pipeline";

    private readonly Meter meter = new(MeterName);
    private readonly Counter<long> commits;
    private readonly Counter<long> fenceRejections;
    private readonly Histogram<int> batchSize;
    private readonly Histogram<double> commitDuration;
    private readonly Counter<long> leadershipChanges;
    private readonly Counter<long> intake;
    private readonly Counter<long> redriven;
    private readonly Counter<long> fenceAcquisitions;
    private long undecided = -1;
    private long undecidedSinceTicks;
    private long confirmed;
    private long rejected;
    private long redelivered;
    private long rejectedFence;
    private LeadershipLease? lease;

    public PipelineMetrics(Commit.FenceStatus fence)
    {
        ArgumentNullException.ThrowIfNull(fence);
        meter.CreateObservableGauge("pipeline.fence.blocked", () => fence.Current.Blocked ? 1 : 0, "{bool}", "1 while the fence holds a token no candidate of this election can reach");
        meter.CreateObservableGauge("pipeline.leader", () => Volatile.Read(ref lease) is { IsRevoked: false } ? 1 : 0, "{bool}", "1 while this replica holds the commit lease");
        meter.CreateObservableGauge("pipeline.fence.token", () => Volatile.Read(ref lease) is { IsRevoked: false } l
            ? [new Measurement<long>(l.Token.Generation, new KeyValuePair<string, object?>("part", "generation")), new Measurement<long>(l.Token.Sequence, new KeyValuePair<string, object?>("part", "sequence"))]
            : Array.Empty<Measurement<long>>(), null, "The fencing token this replica commits with");
        commits = meter.CreateCounter<long>("pipeline.commits", "{order}", "Orders decided by the commit stage, by outcome");
        fenceRejections = meter.CreateCounter<long>("pipeline.fence.rejections", "{batch}", "Commits refused by the fence");
        batchSize = meter.CreateHistogram<int>("pipeline.commit.batch_size", "{order}", "Orders per commit transaction");
        commitDuration = meter.CreateHistogram<double>("pipeline.commit.duration", "ms", "Duration of a commit transaction");
        leadershipChanges = meter.CreateCounter<long>("pipeline.leadership.changes", "{change}", "Leadership changes seen by this replica");
        intake = meter.CreateCounter<long>("pipeline.intake", "{order}", "Orders taken in, by outcome");
        redriven = meter.CreateCounter<long>("pipeline.redrive.orders", "{order}", "Undecided orders the leader's re-drive committed (decided) or had to leave out (failed)");
        fenceAcquisitions = meter.CreateCounter<long>("pipeline.fence.acquisitions", "{attempt}", "Fence bumps of a new leader, by outcome (acquired, refused)");
        meter.CreateObservableGauge("pipeline.orders.undecided", () => Interlocked.Read(ref undecided) is var n and >= 0 ? [new Measurement<long>(n)] : Array.Empty<Measurement<long>>(),
            "{order}", "Orders recorded and not yet decided, as the leader's last re-drive sweep counted them");
        meter.CreateObservableGauge("pipeline.orders.undecided.oldest_age", () => Interlocked.Read(ref undecidedSinceTicks) is var t and > 0
            ? [new Measurement<double>((DateTimeOffset.UtcNow - new DateTimeOffset(t, TimeSpan.Zero)).TotalSeconds)]
            : Array.Empty<Measurement<double>>(), "s", "Age of the oldest undecided order at the leader's last re-drive sweep");
    }



    public long Confirmed => Interlocked.Read(ref confirmed);

    public long Rejected => Interlocked.Read(ref rejected);

    public long Redelivered => Interlocked.Read(ref redelivered);

    public long FenceRejections => Interlocked.Read(ref rejectedFence);

    public DateTimeOffset? LastCommitAt { get; private set; }

    public string? LastCommitToken { get; private set; }

    public void Committed(IReadOnlyList<OrderDecision> decisions, TimeSpan duration, string token)
    {
        ArgumentNullException.ThrowIfNull(decisions);
        foreach (var decision in decisions)
        {
            var outcome = decision.AlreadyDecided ? "already_decided" : decision.Confirmed ? "confirmed" : "rejected";
            commits.Add(1, new KeyValuePair<string, object?>("outcome", outcome));
            Interlocked.Increment(ref decision.AlreadyDecided ? ref redelivered : ref decision.Confirmed ? ref confirmed : ref rejected);
        }

        batchSize.Record(decisions.Count);
        commitDuration.Record(duration.TotalMilliseconds);
        LastCommitAt = DateTimeOffset.UtcNow;
        LastCommitToken = token;
    }

    public void FenceRejected()
    {
        Interlocked.Increment(ref rejectedFence);
        fenceRejections.Add(1);
    }

    public void LeadershipChanged(ElectionState state, LeadershipLease? current)
    {
        Volatile.Write(ref lease, current);
        leadershipChanges.Add(1, new KeyValuePair<string, object?>("state", state.ToString()));
    }

    public void FenceAcquisition(bool acquired) => fenceAcquisitions.Add(1, new KeyValuePair<string, object?>("outcome", acquired ? "acquired" : "refused"));

    public void Redriven(string outcome, int orders)
    {
        if (orders > 0)
        {
            redriven.Add(orders, new KeyValuePair<string, object?>("outcome", outcome));
        }
    }

    /// <summary>What the leader's last sweep found undecided.</summary>
    public void Undecided(long count, DateTimeOffset? oldestReceivedAt)
    {
        Interlocked.Exchange(ref undecided, count);
        Interlocked.Exchange(ref undecidedSinceTicks, oldestReceivedAt?.UtcTicks ?? 0);
    }

    public void IntakeAccepted() => intake.Add(1, new KeyValuePair<string, object?>("outcome", "accepted"));

    public void IntakeRejected(RejectionReason reason) => intake.Add(1, new KeyValuePair<string, object?>("outcome", reason.ToString()));

    /// <summary>A submission refused because its order id is recorded with other content (an OrderIdConflict).</summary>
    public void IntakeConflict() => intake.Add(1, new KeyValuePair<string, object?>("outcome", "id_conflict"));

    public void Dispose() => meter.Dispose();
}
