using System.Diagnostics;
using Pipeline.Testing;

namespace Pipeline.Cluster.Tests;

/// <summary>The faults, each injected and healed; each returns how long until a leader with a newer token led (or, for a
/// fault that leaves the leader in place, until it committed again).</summary>
public sealed class Nemesis(ChaosCluster chaos, FaultRun run)
{
    /// <summary>A pause of 1.5 session timeouts: the session certainly expires while the process is frozen.</summary>
    public static readonly TimeSpan PauseLength = ChaosCluster.SessionTimeout * 1.5;

    /// <summary>How long a killed ZooKeeper server stays down (fault 8).</summary>
    public static readonly TimeSpan ServerDownLength = TimeSpan.FromSeconds(5);

    /// <summary>How long the ensemble stays without a quorum (fault 9), five session timeouts.</summary>
    public static readonly TimeSpan QuorumLossLength = TimeSpan.FromSeconds(10);

    private ReplicaCluster Cluster => chaos.Cluster;

    /// <summary>(1) kill -9 the leader; a successor leads once the session expires; the dead replica is started again.</summary>
    public async Task<TimeSpan> KillLeaderAsync(ObservedLeader leader)
    {
        await Cluster.WaitStandbyArmedAsync(leader); // a standby restarted by the fault before may not wait on the signal yet
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
        var link = chaos.Links(leader.Index).ZooKeeper;
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
        HoldAsync(leader, chaos.Links(leader.Index).ZooKeeper.Pause, chaos.Links(leader.Index).ZooKeeper.Heal);

    /// <summary>How long a live leader may take to be succeeded on its released crash signal: no session may expire meanwhile
    /// (its ZooKeeper link is fine), so any handover at all is the signal's; the bound only guards liveness.</summary>
    public static readonly TimeSpan SignalHandoverBound = TimeSpan.FromSeconds(5);

    /// <summary>(5) the false detection, by the network: the live leader's Postgres link is cut (connections reset, new ones
    /// refused) for 5 s while its ZooKeeper link stays up. Its crash signal goes with the connection, so a standby deletes
    /// its node and leads within <see cref="SignalHandoverBound"/>; the ex-leader, unable to commit anyway, loses its lease
    /// and rejoins; healed, it stands by. Returns how long until the newer leader led.</summary>
    public async Task<TimeSpan> CutLeaderFromPostgresAsync(ObservedLeader leader)
    {
        await Cluster.WaitStandbyArmedAsync(leader);
        var clock = Stopwatch.StartNew();
        chaos.Links(leader.Index).Postgres.Cut();
        TimeSpan failover;
        try
        {
            await Cluster.LeaderAsync(newerThan: leader.Token, timeout: SignalHandoverBound);
            failover = clock.Elapsed;
            if (TimeSpan.FromSeconds(5) - clock.Elapsed is { Ticks: > 0 } rest)
            {
                await Task.Delay(rest); // the fault's length
            }
        }
        finally
        {
            chaos.Links(leader.Index).Postgres.Heal();
        }

        await run.NotLeadingAsync(leader.Index);
        await CommitAfterAsync(DateTimeOffset.UtcNow, "a commit after the Postgres link healed");
        return failover;
    }

    /// <summary>(12) the false detection, alone: the live leader's crash-signal connection is dropped (its backend
    /// terminated) while every other link of it works, commits included. A standby deletes its node and leads within
    /// <see cref="SignalHandoverBound"/>; the ex-leader's lease ends when the deletion reaches it, the fence refuses what
    /// it still tries, and it rejoins behind. Returns how long until the newer leader led.</summary>
    public async Task<TimeSpan> DropLeaderCrashSignalAsync(ObservedLeader leader)
    {
        await Cluster.WaitStandbyArmedAsync(leader);
        var clock = Stopwatch.StartNew();
        Assert.True(await chaos.Database.TerminateCrashSignalHolderAsync() == 1, $"no crash signal held by {leader.NodeId}\n{chaos.Describe()}");

        await Cluster.LeaderAsync(newerThan: leader.Token, timeout: SignalHandoverBound);
        var failover = clock.Elapsed;
        await run.NotLeadingAsync(leader.Index);
        return failover;
    }

    /// <summary>(6) RabbitMQ stopped (SIGTERM: a clean broker shutdown, every connection closed) and started again with
    /// its data: durable queues and persistent messages survive, unacknowledged deliveries return to their queues; returns
    /// how long after the stop a commit happened again.</summary>
    public async Task<TimeSpan> RestartRabbitMqAsync(ObservedLeader leader)
    {
        var clock = Stopwatch.StartNew();
        await chaos.RabbitMq.RestartAsync();
        await CommitAfterAsync(DateTimeOffset.UtcNow, $"a commit after RabbitMQ restarted (leader before: {leader.NodeId})");
        return clock.Elapsed;
    }

    /// <summary>(7) Postgres stopped (fast shutdown: every connection terminated, in-flight commits rolled back), kept down
    /// for <see cref="ServerDownLength"/>, started again; returns how long after the stop a commit happened again.</summary>
    public async Task<TimeSpan> RestartPostgresAsync(ObservedLeader leader)
    {
        var clock = Stopwatch.StartNew();
        await chaos.Postgres.StopAsync(PostgresShutdown.Fast);
        await Task.Delay(ServerDownLength); // the fault's length
        await chaos.Postgres.StartAsync();
        await CommitAfterAsync(DateTimeOffset.UtcNow, $"a commit after Postgres restarted (leader before: {leader.NodeId})");
        return clock.Elapsed;
    }

    /// <summary>(8) kill -9 ZooKeeper server <paramref name="pick"/> chooses (the ensemble's own leader, as srvr tells, or a
    /// follower), keep it down for <see cref="ServerDownLength"/>, start it again; returns how long after the kill a commit
    /// happened once the remaining quorum served (the pipeline's leader may keep its session through the move).</summary>
    public async Task<TimeSpan> KillZooKeeperServerAsync(bool ensembleLeader)
    {
        var zk = chaos.ZooKeeper;
        var leader = await zk.FindLeaderAsync();
        var victim = ensembleLeader ? leader : (leader % zk.Addresses.Count) + 1;
        var clock = Stopwatch.StartNew();
        zk.Kill(victim);
        if (zk.Addresses.Count == 1)
        {
            // A single server: its loss is the loss of the service; commits resume only once it is back.
            await Task.Delay(ServerDownLength); // the fault's length
            await zk.RestartAsync(victim);
            await CommitAfterAsync(DateTimeOffset.UtcNow, "a commit after the only ZooKeeper server came back");
            return clock.Elapsed;
        }

        await CommitAfterAsync(DateTimeOffset.UtcNow, $"a commit after ZooKeeper server {victim} ({(ensembleLeader ? "leader" : "follower")}) was killed");
        var resumed = clock.Elapsed;
        if (ServerDownLength - clock.Elapsed is { Ticks: > 0 } rest)
        {
            await Task.Delay(rest); // the fault's length
        }

        await zk.RestartAsync(victim);
        return resumed;
    }

    /// <summary>(9) two of the three ZooKeeper servers killed for <see cref="QuorumLossLength"/>: no quorum, so nobody can
    /// be elected and the leader, disconnected, stops committing; both started again; returns how long after the loss a
    /// commit happened again.</summary>
    public async Task<TimeSpan> LoseZooKeeperQuorumAsync(ObservedLeader leader)
    {
        var zk = chaos.ZooKeeper;
        var ensembleLeader = await zk.FindLeaderAsync();
        int[] victims = [.. new[] { ensembleLeader, (ensembleLeader % zk.Addresses.Count) + 1 }.Distinct()];
        var clock = Stopwatch.StartNew();
        foreach (var victim in victims)
        {
            zk.Kill(victim);
        }

        await Task.Delay(QuorumLossLength); // the fault's length
        zk.StartStopped();
        await zk.WaitServingAsync(TimeSpan.FromSeconds(60));
        await CommitAfterAsync(DateTimeOffset.UtcNow, $"a commit after the ZooKeeper quorum came back (leader before: {leader.NodeId})");
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

    /// <summary>(11) a replica cut from ZooKeeper twice in a row mid-create, then left alone in the election: a non-leader
    /// restarts through its fault proxy; the reply to its election node's create is lost (the node exists, the replica does
    /// not know its name) and its very next request is cut too. Then the other two stop gracefully, so whatever node that
    /// replica's session left behind is ahead of it: it must lead within two session timeouts (an orphan node of its own
    /// would block it forever). The two start again afterwards.</summary>
    public async Task<TimeSpan> CutTwiceMidCreateAsync(ObservedLeader leader)
    {
        var victim = (leader.Index + 1) % Cluster.Replicas.Count;
        var others = Cluster.Replicas.Select(r => r.Index).Where(i => i != victim).ToList();
        var proxy = chaos.FaultProxy(victim);
        void CutTheNextRequestToo(Testing.Liveness.AppliedFault fault)
        {
            if (fault.Action.Kind == Testing.Liveness.FaultKind.DropReply)
            {
                proxy.Arm(fault.Request.Number + 1, Testing.Liveness.FaultAction.CutBeforeSend);
            }
        }

        var exit = await Cluster.StopGracefullyAsync(victim);
        Assert.True(exit == 0, $"{Cluster[victim].NodeId} exited with {exit} after SIGTERM\n{ReplicaCluster.Tail(Cluster[victim])}");
        var applied = proxy.Applied.Count;
        proxy.Disarm();
        proxy.FaultApplied += CutTheNextRequestToo;
        proxy.ArmNext(ZooKeeper.Protocol.OpCode.Create2, Testing.Liveness.FaultAction.DropReply);
        chaos.RouteZooKeeperThroughFaultProxy(victim, true);
        try
        {
            await Cluster.StartReplicaAsync(victim);
            await Eventually.TrueAsync(() => Task.FromResult(proxy.Applied.Count >= applied + 2), TimeSpan.FromSeconds(30),
                $"the create's reply dropped and the next request cut on {Cluster[victim].NodeId}'s ZooKeeper link (applied: {string.Join("; ", proxy.Applied.Skip(applied))})");
        }
        finally
        {
            proxy.FaultApplied -= CutTheNextRequestToo;
            proxy.Disarm();
            chaos.RouteZooKeeperThroughFaultProxy(victim, false);
        }

        await Task.WhenAll(others.Select(async i =>
        {
            var code = await Cluster.StopGracefullyAsync(i);
            Assert.True(code == 0, $"{Cluster[i].NodeId} exited with {code} after SIGTERM\n{ReplicaCluster.Tail(Cluster[i])}");
        }));
        var clock = Stopwatch.StartNew();
        var bound = (ChaosCluster.SessionTimeout * 2) + TimeSpan.FromSeconds(1);
        var next = await Cluster.LeaderAsync(newerThan: leader.Token, timeout: bound);
        var failover = clock.Elapsed;
        Assert.Equal(Cluster[victim].NodeId, next.NodeId);
        foreach (var index in others)
        {
            await Cluster.StartReplicaAsync(index);
        }

        return failover;
    }

    /// <summary>Waits until a commit is stored with a commit time after <paramref name="after"/> (same machine, same clock).</summary>
    private Task CommitAfterAsync(DateTimeOffset after, string what) =>
        Eventually.TrueAsync(async () =>
        {
            await using var command = chaos.DataSource.CreateCommand("SELECT count(*) FROM inventory_commits WHERE committed_at > $1");
            command.Parameters.Add(new Npgsql.NpgsqlParameter<DateTimeOffset> { TypedValue = after });
            return (long)(await command.ExecuteScalarAsync())! > 0;
        }, TimeSpan.FromSeconds(90), $"{what}\n{chaos.Describe()}", TimeSpan.FromMilliseconds(50));

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
