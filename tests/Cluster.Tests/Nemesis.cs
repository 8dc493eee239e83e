using System.Diagnostics;
using Pipeline.Testing;

namespace Pipeline.Cluster.Tests;

/// <summary>The faults, each injected and healed; each returns how long until a leader with a newer token led (or, for a
/// fault that leaves the leader in place, until it committed again).</summary>
public sealed class Nemesis(ChaosCluster chaos, FaultRun run)
{
    /// <summary>A pause of 1.5 session timeouts: the session certainly expires while the process is frozen.</summary>
    public static readonly TimeSpan PauseLength = ChaosCluster.SessionTimeout * 1.5;

    private ReplicaCluster Cluster => chaos.Cluster;

    /// <summary>(1) kill -9 the leader; a successor leads once the session expires; the dead replica is started again.</summary>
    public async Task<TimeSpan> KillLeaderAsync(ObservedLeader leader)
    {
        var clock = Stopwatch.StartNew();
        Cluster.Kill(leader.Index);
        await Cluster.LeaderAsync(newerThan: leader.Token, timeout: TimeSpan.FromSeconds(30));
        var failover = clock.Elapsed;
        await Cluster.StartReplicaAsync(leader.Index);
        return failover;
    }

    /// <summary>(2, 3) SIGSTOP the leader for <see cref="PauseLength"/> (longer if the successor is slower), SIGCONT; the
    /// ex-leader wakes believing it leads and must step down without committing.</summary>
    public Task<TimeSpan> PauseLeaderAsync(ObservedLeader leader) =>
        HoldAsync(leader, () => Cluster.Pause(leader.Index), () => Cluster.Resume(leader.Index));

    /// <summary>(3) the pause with a batch in hand, and a frozen network too: the leader's ZooKeeper link stops forwarding
    /// just before SIGSTOP and is healed only once the woken ex-leader stepped down, so on SIGCONT no closed socket tells it
    /// at once that its session is gone; its delayed commit races its own read timeout, and the fence must refuse it.</summary>
    public async Task<TimeSpan> PauseLeaderWithBatchInHandAsync(ObservedLeader leader)
    {
        var link = chaos.ZooKeeperLink(leader.Index);
        var failover = await HoldAsync(leader, () =>
        {
            link.Pause();
            Cluster.Pause(leader.Index);
        }, () => Cluster.Resume(leader.Index));
        link.Heal();
        return failover;
    }

    /// <summary>(4) the leader's ZooKeeper link stops forwarding (a partition: sockets open, no bytes); RabbitMQ and Postgres
    /// still reachable. A successor leads after the session expires; healed after <see cref="PauseLength"/>.</summary>
    public Task<TimeSpan> PartitionLeaderFromZooKeeperAsync(ObservedLeader leader) =>
        HoldAsync(leader, chaos.ZooKeeperLink(leader.Index).Pause, chaos.ZooKeeperLink(leader.Index).Heal);

    /// <summary>(5) the leader's Postgres link is cut (connections reset, new ones refused) for 5 s, then healed: the leader
    /// keeps its leadership but cannot commit; returns how long after the cut commits resumed.</summary>
    public async Task<TimeSpan> CutLeaderFromPostgresAsync(ObservedLeader leader)
    {
        var clock = Stopwatch.StartNew();
        chaos.PostgresLink(leader.Index).Cut();
        await Task.Delay(TimeSpan.FromSeconds(5)); // the fault's length
        chaos.PostgresLink(leader.Index).Heal();
        var healed = DateTimeOffset.UtcNow;
        await Eventually.TrueAsync(async () =>
        {
            await using var command = chaos.DataSource.CreateCommand("SELECT count(*) FROM inventory_commits WHERE committed_at > $1");
            command.Parameters.Add(new Npgsql.NpgsqlParameter<DateTimeOffset> { TypedValue = healed });
            return (long)(await command.ExecuteScalarAsync())! > 0;
        }, TimeSpan.FromSeconds(60), $"a commit after the Postgres link healed\n{chaos.Describe()}", TimeSpan.FromMilliseconds(50));
        return clock.Elapsed;
    }

    /// <summary>(10) SIGTERM and restart each replica in turn, the leader last; returns the leader's handover time.</summary>
    public async Task<TimeSpan> RollingRestartAsync(ObservedLeader leader)
    {
        var handover = TimeSpan.Zero;
        foreach (var index in Cluster.Replicas.Select(r => r.Index).OrderBy(i => i == leader.Index))
        {
            var clock = Stopwatch.StartNew();
            var exit = await Cluster.StopGracefullyAsync(index);
            Assert.True(exit == 0, $"{Cluster[index].NodeId} exited with {exit} after SIGTERM\n{ReplicaCluster.Tail(Cluster[index])}");
            if (index == leader.Index)
            {
                await Cluster.LeaderAsync(newerThan: leader.Token, timeout: TimeSpan.FromSeconds(30));
                handover = clock.Elapsed;
            }

            await Cluster.StartReplicaAsync(index);
        }

        return handover;
    }

    /// <summary>Injects, waits for a successor, keeps the fault for at least <see cref="PauseLength"/>, heals, and waits until
    /// the ex-leader answers as a non-leader.</summary>
    private async Task<TimeSpan> HoldAsync(ObservedLeader leader, Action inject, Action heal)
    {
        var clock = Stopwatch.StartNew();
        inject();
        TimeSpan failover;
        try
        {
            await Cluster.LeaderAsync(newerThan: leader.Token, timeout: TimeSpan.FromSeconds(30));
        }
        finally
        {
            failover = clock.Elapsed;
            if (PauseLength - clock.Elapsed is { Ticks: > 0 } rest)
            {
                await Task.Delay(rest); // the fault's length
            }

            heal();
        }

        await run.NotLeadingAsync(leader.Index);
        return failover;
    }
}
