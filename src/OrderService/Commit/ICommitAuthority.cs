using MassTransit;
using Pipeline.Inventory.Commit;
using Pipeline.ZooKeeper.Recipes;

namespace Pipeline.OrderService.Commit;

/// <summary>
/// Says who may commit inventory and with which token. The product has one: <see cref="FencedLeadership"/> (the ZooKeeper
/// election's leader, its token checked by the Postgres fence on every commit). It is chosen in one place,
/// <see cref="ServiceHost.AddPipelineServices"/>; the failover benchmark's comparison peer brings its own from the replica host.
/// It runs as a hosted service: it connects the commit endpoint when this replica may commit and stops it when not.
/// </summary>
public interface ICommitAuthority : IHostedService
{
    /// <summary>The grant commits go out under now, or null when this replica may not commit.</summary>
    CommitGrant? Current { get; }

    /// <summary>Every delivery of the commit endpoint, before it joins a batch (what the broker's choice of consumer tells).</summary>
    ValueTask AdmitAsync(ConsumeContext context);

    /// <summary>The grant for the next batch. While a new grant waits for the fence (the endpoint connects meanwhile), waits
    /// for the outcome, at most <paramref name="limit"/>; null when this replica may not commit.</summary>
    ValueTask<CommitGrant?> WaitForGrantAsync(TimeSpan limit);

    /// <summary>The fence refused a commit under a grant of ours: a newer leader exists, this replica must stop committing.</summary>
    void FencedOff(StaleLeaderException refusal);

    /// <summary>What /status shows of leadership.</summary>
    Task<LeadershipStatus> DescribeAsync(CancellationToken cancellationToken);
}

/// <summary>The leadership part of /status: the election state, the grant, the election's candidates (leader first).</summary>
public sealed record LeadershipStatus(
    string State,
    string? Failure,
    bool IsLeader,
    FenceToken? Token,
    IReadOnlyList<LeadershipCandidate> Candidates,
    IReadOnlyList<string> ForeignNodes,
    string? Error)
{
    /// <summary>This replica's last leaderships and successions (led: with the cause and the leader before; ended: with the
    /// reason; deleted-on-crash-signal), oldest first.</summary>
    public IReadOnlyList<ElectionHistoryEntry> History { get; init; } = [];

    /// <summary>Where this replica stands with the leader's crash signal (holding it, armed on the leader's, or waiting for
    /// the leader to hold one); null when none is in use.</summary>
    public string? CrashSignal { get; init; }
}

/// <summary>A candidate of the election as /status shows it.</summary>
public sealed record LeadershipCandidate(string Node, long Sequence, string Session, string? NodeId, string? Host, int? Pid);
