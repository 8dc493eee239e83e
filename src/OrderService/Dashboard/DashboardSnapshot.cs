using Microsoft.Extensions.Options;
using Pipeline.Inventory.Status;
using Pipeline.OrderService.Commit;
using Pipeline.OrderService.Configuration;
using Pipeline.OrderService.Telemetry;

namespace Pipeline.OrderService.Dashboard;

/// <summary>Everything the dashboard shows, as one JSON document: this replica, the election (leader, candidates, the
/// shared history), the commit rate, the queues, the undecided orders, the fence and the last decisions.</summary>
/// <remarks>Only names, tokens, counts, times and reasons: no setting of the service is in it, so no credential can be.</remarks>
public sealed record DashboardSnapshot(
    DateTimeOffset GeneratedAt,
    DashboardSnapshot.ReplicaView Replica,
    DashboardSnapshot.LeaderView? Leader,
    IReadOnlyList<DashboardSnapshot.CandidateView> Candidates,
    IReadOnlyList<DashboardSnapshot.HistoryView> History,
    DashboardSnapshot.CommitsView Commits,
    DashboardSnapshot.QueuesView Queues,
    DashboardSnapshot.UndecidedView? Undecided,
    DashboardSnapshot.FenceView Fence,
    IReadOnlyList<DashboardSnapshot.DecisionView> Decisions,
    string? DatabaseError)
{
    public sealed record ReplicaView(string NodeId, string State, bool IsLeader, string? Token, string? CrashSignal, bool? Ready,
        IReadOnlyList<CheckView> Checks, string? Failure, string? Error, IReadOnlyList<OwnEventView> OwnHistory);

    public sealed record CheckView(string Name, string Status, string? Description);

    public sealed record OwnEventView(DateTimeOffset At, string Event, string? Token, string? Previous, string Detail);

    public sealed record LeaderView(string? NodeId, string? Token, long Sequence, string? Host, int? Pid, DateTimeOffset? Since, string? Cause, string? Previous);

    public sealed record CandidateView(int Position, string Role, string? NodeId, long Sequence, string Session, string? Host, int? Pid, bool IsThisReplica);

    /// <summary>A leadership taken (<c>Kind</c> led) or a commit refused by the fence (<c>Kind</c> fenced-off); <c>Cause</c>
    /// in the operator's words: first, graceful, expedited (the crash signal), expired (the session), resumed, fenced off.</summary>
    public sealed record HistoryView(DateTimeOffset At, string Kind, string NodeId, string Token, string Cause, string? Previous);

    public sealed record RatePointView(DateTimeOffset At, double PerSecond);

    public sealed record CommitsView(IReadOnlyList<RatePointView> PerSecond, double? Current, long ConfirmedHere, long RejectedHere, DateTimeOffset? LastCommitHere);

    public sealed record QueueView(string Name, long Messages, long Consumers, bool Exists, bool IsErrorQueue);

    public sealed record QueuesView(IReadOnlyList<QueueView> Queues, DateTimeOffset? At, string? Error);

    public sealed record UndecidedView(long Count, double? OldestAgeSeconds, double RedriveAgeSeconds);

    public sealed record FenceView(long Rejections, bool Blocked, string? Reason);

    public sealed record DecisionView(DateTimeOffset At, string OrderId, string Outcome, string? Reason, string NodeId, string Token);

    /// <summary>The operator's word for a succession cause or a fence refusal.</summary>
    public static string CauseWord(string kind, string cause) => kind == "fenced-off" ? "fenced off" : cause switch
    {
        "crash-signal" => "expedited",
        "session-expired" => "expired",
        _ => cause,
    };
}

/// <summary>Builds <see cref="DashboardSnapshot"/>s from the replica's own state and the samplers' last readings.</summary>
public sealed class DashboardSnapshots(
    ICommitAuthority authority,
    PipelineMetrics metrics,
    FenceStatus fence,
    QueueDepths queues,
    ClusterActivitySampler activity,
    IOptions<PipelineOptions> options)
{
    public async Task<DashboardSnapshot> BuildAsync(CancellationToken cancellationToken)
    {
        activity.Watched();
        var leadership = await authority.DescribeAsync(cancellationToken);
        var cluster = activity.Latest;
        var elections = cluster?.Elections ?? [];
        var candidates = leadership.Candidates.Select((c, i) => new DashboardSnapshot.CandidateView(
            i + 1, i == 0 ? "leader" : "standby", c.NodeId, c.Sequence, c.Session, c.Host, c.Pid, c.NodeId == options.Value.NodeId)).ToList();

        DashboardSnapshot.LeaderView? leader = null;
        if (leadership.Candidates is [var first, ..])
        {
            // The leader's token and why it leads come from the shared history: its own succession row.
            var led = elections.FirstOrDefault(e => e.Kind == "led" && e.NodeId == first.NodeId && e.Token.Sequence == first.Sequence);
            leader = new DashboardSnapshot.LeaderView(first.NodeId, led?.Token.ToString(), first.Sequence, first.Host, first.Pid, led?.At,
                led is null ? null : DashboardSnapshot.CauseWord(led.Kind, led.Cause), led?.Previous);
        }

        var ready = activity.Ready;
        var queueSnapshot = queues.Current;
        var rate = activity.Rate;
        var fenceNow = fence.Current;
        return new DashboardSnapshot(
            DateTimeOffset.UtcNow,
            new DashboardSnapshot.ReplicaView(options.Value.NodeId, leadership.State, leadership.IsLeader, leadership.Token?.ToString(), leadership.CrashSignal,
                ready?.Ready, ready?.Checks.Select(c => new DashboardSnapshot.CheckView(c.Name, c.Status, c.Description)).ToList() ?? [],
                leadership.Failure, leadership.Error,
                [.. leadership.History.Select(h => new DashboardSnapshot.OwnEventView(h.At, h.Event, h.Token?.ToString(), h.Previous, h.Detail))]),
            leader,
            candidates,
            [.. elections.Select(e => new DashboardSnapshot.HistoryView(e.At, e.Kind, e.NodeId, e.Token.ToString(), DashboardSnapshot.CauseWord(e.Kind, e.Cause), e.Previous))],
            new DashboardSnapshot.CommitsView([.. rate.Select(p => new DashboardSnapshot.RatePointView(p.At, Math.Round(p.PerSecond, 1)))],
                rate.Count > 0 ? Math.Round(rate[^1].PerSecond, 1) : null, metrics.Confirmed, metrics.Rejected, metrics.LastCommitAt),
            new DashboardSnapshot.QueuesView([.. queueSnapshot.Queues.Select(q => new DashboardSnapshot.QueueView(q.Queue, q.Messages, q.Consumers, q.Exists, q.Queue.EndsWith("_error", StringComparison.Ordinal)))],
                queueSnapshot.At, queueSnapshot.Error),
            cluster is null ? null : new DashboardSnapshot.UndecidedView(cluster.Undecided,
                cluster.OldestUndecidedAt is { } oldest ? Math.Max(0, (cluster.At - oldest).TotalSeconds) : null, options.Value.RedriveAge.TotalSeconds),
            new DashboardSnapshot.FenceView(cluster?.FenceRejections ?? metrics.FenceRejections, fenceNow.Blocked, fenceNow.Reason),
            [.. (cluster?.Decisions ?? []).Select(d => new DashboardSnapshot.DecisionView(d.At, d.OrderId, d.Outcome, d.Reason, d.NodeId, d.Token.ToString()))],
            activity.Error);
    }
}
