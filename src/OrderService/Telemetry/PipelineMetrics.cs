using System.Diagnostics.Metrics;
using Pipeline.Contracts;
using Pipeline.Inventory.Commit;

namespace Pipeline.OrderService.Telemetry;

/// <summary>The service's instruments (meter <c>Pipeline</c>) and the in-memory counts that /status shows.</summary>
/// <remarks>Leadership and its token are the election's instruments (<c>election.is_leader</c>, <c>election.token.*</c>,
/// <c>election.leadership.changes</c>), not repeated here. Durations are in seconds with explicit bucket boundaries; the
/// counters that alerts and the dashboard read are exported at 0 from the start, since an <c>increase</c> over a series
/// that appears only with its first event cannot see that event.</remarks>
public sealed class PipelineMetrics : IDisposable
{
    public const string MeterName = "Pipeline";

    /// <summary>Seconds: a commit transaction takes milliseconds; a loaded database or a lock wait, up to the statement timeout.</summary>
    private static readonly double[] CommitDurationBoundaries = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

    /// <summary>Orders per transaction, up to and beyond the default CommitBatchSize of 100.</summary>
    private static readonly int[] BatchSizeBoundaries = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000];

    private static readonly string[] CommitOutcomes = ["confirmed", "rejected", "already_decided"];
    private static readonly string[] IntakeOutcomes = ["accepted", nameof(RejectionReason.Invalid), "id_conflict"];

    private readonly Meter meter = new(MeterName);
    private readonly Counter<long> commits;
    private readonly Counter<long> fenceRejections;
    private readonly Histogram<int> batchSize;
    private readonly Histogram<double> commitDuration;
    private readonly Counter<long> intake;
    private readonly Counter<long> redriven;
    private readonly Counter<long> fenceAcquisitions;
    private long undecided = -1;
    private long undecidedSinceTicks;
    private long confirmed;
    private long rejected;
    private long redelivered;
    private long rejectedFence;

    public PipelineMetrics(Commit.FenceStatus fence)
    {
        ArgumentNullException.ThrowIfNull(fence);
        meter.CreateObservableGauge("pipeline.fence.blocked", () => fence.Current.Blocked ? 1 : 0, "{bool}", "1 while the fence holds a token no candidate of this election can reach");
        commits = meter.CreateCounter<long>("pipeline.commits", "{order}", "Orders decided by the commit stage, by outcome");
        fenceRejections = meter.CreateCounter<long>("pipeline.fence.rejections", "{batch}", "Commits refused by the fence");
        batchSize = meter.CreateHistogram("pipeline.commit.batch_size", "{order}", "Orders per commit transaction",
            tags: null, advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = BatchSizeBoundaries });
        commitDuration = meter.CreateHistogram("pipeline.commit.duration", "s", "Duration of a commit transaction",
            tags: null, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = CommitDurationBoundaries });
        intake = meter.CreateCounter<long>("pipeline.intake", "{order}", "Orders taken in, by outcome");
        redriven = meter.CreateCounter<long>("pipeline.redrive.orders", "{order}", "Undecided orders the leader's re-drive committed (decided) or had to leave out (failed)");
        fenceAcquisitions = meter.CreateCounter<long>("pipeline.fence.acquisitions", "{attempt}", "Fence bumps of a new leader, by outcome (acquired, refused)");
        meter.CreateObservableGauge("pipeline.orders.undecided", () => Interlocked.Read(ref undecided) is var n and >= 0 ? [new Measurement<long>(n)] : Array.Empty<Measurement<long>>(),
            "{order}", "Orders recorded and not yet decided, as this replica's last re-drive sweep as leader counted them");
        meter.CreateObservableGauge("pipeline.orders.undecided.oldest_age", ObserveOldestAge,
            "s", "Age of the oldest undecided order at this replica's last re-drive sweep as leader (0: none)");

        fenceRejections.Add(0);
        foreach (var outcome in CommitOutcomes)
        {
            commits.Add(0, new KeyValuePair<string, object?>("outcome", outcome));
        }

        foreach (var outcome in IntakeOutcomes)
        {
            intake.Add(0, new KeyValuePair<string, object?>("outcome", outcome));
        }

        foreach (var outcome in new[] { "acquired", "refused" })
        {
            fenceAcquisitions.Add(0, new KeyValuePair<string, object?>("outcome", outcome));
        }

        foreach (var outcome in new[] { "decided", "failed" })
        {
            redriven.Add(0, new KeyValuePair<string, object?>("outcome", outcome));
        }
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
        commitDuration.Record(duration.TotalSeconds);
        LastCommitAt = DateTimeOffset.UtcNow;
        LastCommitToken = token;
    }

    public void FenceRejected()
    {
        Interlocked.Increment(ref rejectedFence);
        fenceRejections.Add(1);
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

    /// <summary>This replica does not lead: its last sweep's counts are nobody's current view, so the gauges go silent
    /// (a stale age on a former leader would keep an alert firing over orders a successor decided long ago).</summary>
    public void UndecidedUnknown() => Interlocked.Exchange(ref undecided, -1);

    public void IntakeAccepted() => intake.Add(1, new KeyValuePair<string, object?>("outcome", "accepted"));

    public void IntakeRejected(RejectionReason reason) => intake.Add(1, new KeyValuePair<string, object?>("outcome", reason.ToString()));

    /// <summary>A submission refused because its order id is recorded with other content (an OrderIdConflict).</summary>
    public void IntakeConflict() => intake.Add(1, new KeyValuePair<string, object?>("outcome", "id_conflict"));

    public void Dispose() => meter.Dispose();

    private IEnumerable<Measurement<double>> ObserveOldestAge()
    {
        if (Interlocked.Read(ref undecided) < 0)
        {
            return [];
        }

        var since = Interlocked.Read(ref undecidedSinceTicks);
        return [new Measurement<double>(since > 0 ? (DateTimeOffset.UtcNow - new DateTimeOffset(since, TimeSpan.Zero)).TotalSeconds : 0)];
    }
}
