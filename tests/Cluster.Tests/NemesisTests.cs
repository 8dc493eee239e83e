using Xunit.Abstractions;

namespace Pipeline.Cluster.Tests;

/// <summary>Faults 1, 2, 4 to 12 under load on one cluster; after each heal the checker must find nothing.</summary>
[Collection(ChaosCollection.Name)]
public sealed class NemesisTests(ChaosCluster chaos, ITestOutputHelper output) : IClassFixture<ChaosCluster>
{
    [Fact]
    public Task Fault_1_kill_9_of_the_leader() => RunAsync("kill-leader", n => n.KillLeaderAsync);

    [Fact]
    public Task Fault_2_SIGSTOP_of_the_leader_for_1_5_session_timeouts() => RunAsync("pause-leader", n => n.PauseLeaderAsync);

    [Fact]
    public Task Fault_4_leader_partitioned_from_ZooKeeper_only() => RunAsync("zk-partition", n => n.PartitionLeaderFromZooKeeperAsync);

    [Fact]
    public Task Fault_5_leader_cut_from_Postgres_while_alive_is_succeeded_on_its_crash_signal() => RunAsync("pg-cut", n => n.CutLeaderFromPostgresAsync);

    [Fact]
    public Task Fault_6_RabbitMQ_restarted() => RunAsync("rabbitmq-restart", n => n.RestartRabbitMqAsync);

    [Fact]
    public Task Fault_7_Postgres_restarted() => RunAsync("pg-restart", n => n.RestartPostgresAsync);

    [Fact]
    public Task Fault_8_kill_9_of_the_ZooKeeper_ensemble_leader() => RunAsync("zk-leader-kill", n => _ => n.KillZooKeeperServerAsync(ensembleLeader: true));

    [Fact]
    public Task Fault_8_kill_9_of_a_ZooKeeper_follower() => RunAsync("zk-follower-kill", n => _ => n.KillZooKeeperServerAsync(ensembleLeader: false));

    [Fact]
    public Task Fault_9_ZooKeeper_quorum_lost_for_10_s() => RunAsync("zk-quorum-loss", n => n.LoseZooKeeperQuorumAsync);

    [Fact]
    public Task Fault_10_graceful_rolling_restart() => RunAsync("rolling-restart", n => n.RollingRestartAsync);

    [Fact]
    public Task Fault_11_Liveness_a_replica_cut_from_ZooKeeper_twice_in_a_row_mid_create_then_alone() => RunAsync("zk-twice-mid-create", n => n.CutTwiceMidCreateAsync);

    [Fact]
    public Task Fault_12_the_live_leaders_crash_signal_connection_dropped() => RunAsync("signal-drop", n => n.DropLeaderCrashSignalAsync);

    private async Task RunAsync(string name, Func<Nemesis, Func<Testing.ObservedLeader, Task<TimeSpan>>> fault)
    {
        var run = new FaultRun(chaos, output);
        var violations = await run.RepeatAsync(name, fault(new Nemesis(chaos, run)));
        Assert.True(violations.Count == 0, $"{violations.Count} violations:\n{string.Join("\n", violations.Take(20))}\n{chaos.Describe()}");
    }
}
