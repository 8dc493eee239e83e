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
    private long confirmed;
    private long rejected;
    private long redelivered;
    private long rejectedFence;
    private LeadershipLease? lease;

    public PipelineMetrics()
    {
        meter.CreateObservableGauge("pipeline.leader", () => Volatile.Read(ref lease) is { IsRevoked: false } ? 1 : 0, "{bool}", "1 while this replica holds the commit lease");
        meter.CreateObservableGauge("pipeline.fence.token", () => Volatile.Read(ref lease) is { IsRevoked: false } l
            ? [new Measurement<long>(l.Token.Generation, new KeyValuePair<string, object?>("part", "generation")), new Measurement<long>(l.Token.Sequence, new KeyValuePair<string, object?>("part", "epoch"))]
            : Array.Empty<Measurement<long>>(), null, "The fencing token this replica commits with");
        commits = meter.CreateCounter<long>("pipeline.commits", "{order}", "Orders decided by the commit stage, by outcome");
        fenceRejections = meter.CreateCounter<long>("pipeline.fence.rejections", "{batch}", "Commits refused by the fence");
        batchSize = meter.CreateHistogram<int>("pipeline.commit.batch_size", "{order}", "Orders per commit transaction");
        commitDuration = meter.CreateHistogram<double>("pipeline.commit.duration", "ms", "Duration of a commit transaction");
        leadershipChanges = meter.CreateCounter<long>("pipeline.leadership.changes", "{change}", "Leadership changes seen by this replica");
        intake = meter.CreateCounter<long>("pipeline.intake", "{order}", "Orders taken in, by outcome");
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

    public void IntakeAccepted() => intake.Add(1, new KeyValuePair<string, object?>("outcome", "accepted"));

    public void IntakeRejected(RejectionReason reason) => intake.Add(1, new KeyValuePair<string, object?>("outcome", reason.ToString()));

    public void Dispose() => meter.Dispose();
}
