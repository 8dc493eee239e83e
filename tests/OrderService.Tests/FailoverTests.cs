using System.Diagnostics;
using Pipeline.Inventory;
using Pipeline.OrderService.Tests.Cluster;
using Pipeline.Testing;
using Xunit.Abstractions;

namespace Pipeline.OrderService.Tests;

/// <summary>The leader goes away while orders stream in, once politely (SIGTERM: it resigns) and once not (SIGKILL: its
/// session must expire). Another replica leads with a greater token, every order is still decided once, the invariants hold.</summary>
[Collection(ClusterCollection.Name)]
public sealed class FailoverTests(ClusterFixture fixture, ITestOutputHelper output)
{
    private const int StreamOrders = 1500;
    private const int AfterOrders = 300;

    /// <summary>The replicas' ZooKeeper session timeout (ReplicaClusterOptions' default).</summary>
    private static readonly TimeSpan Session = TimeSpan.FromSeconds(2);

    /// <summary>A resigning leader deletes its node before it exits: the successor must not wait for a session to expire,
    /// so it leads less than a session timeout after the exit (the poll and the endpoint start included).</summary>
    [Fact]
    public Task After_SIGTERM_of_the_leader_mid_stream_another_leads_and_every_order_is_decided() =>
        HandOverAsync("term", async index =>
        {
            var exitCode = await fixture.Cluster.StopGracefullyAsync(index);
            Assert.True(exitCode == 0, $"the leader exited with {exitCode} after SIGTERM\n{ReplicaCluster.Tail(fixture.Cluster[index])}");
        }, failoverLimit: TimeSpan.FromSeconds(10), afterExitLimit: Session, cause: "graceful");

    /// <summary>Nobody resigns, but the dead leader's crash signal (its Postgres advisory lock) goes with its process: a
    /// standby deletes its node and the successor leads before the session could expire, saying why.</summary>
    [Fact]
    public Task After_kill_9_of_the_leader_mid_stream_another_leads_on_its_crash_signal_before_the_session_expires() =>
        HandOverAsync("kill", index =>
        {
            fixture.Cluster.Kill(index);
            return Task.CompletedTask;
        }, failoverLimit: Session, afterExitLimit: Session, cause: "crash-signal");

    /// <summary>A false detection: the live leader's crash-signal connection drops (its backend terminated, as a cut
    /// network would). A standby deletes its node and leads; the ex-leader's lease ends when the deletion reaches it, the
    /// fence refuses whatever it still tries, and it rejoins behind as a standby. No order is lost or decided twice.</summary>
    [Fact]
    public Task After_the_live_leaders_signal_connection_drops_mid_stream_it_is_deposed_safely_and_rejoins() =>
        HandOverAsync("signal-drop", async index =>
        {
            Assert.True(await fixture.Database.TerminateCrashSignalHolderAsync() == 1, $"{fixture.Cluster[index].NodeId}'s crash signal was not the one held");
        }, failoverLimit: Session, afterExitLimit: Session, cause: "crash-signal", leaderSurvives: true);

    private async Task HandOverAsync(string label, Func<int, Task> fault, TimeSpan failoverLimit, TimeSpan? afterExitLimit, string? cause = null, bool leaderSurvives = false)
    {
        var dataSource = fixture.Database.DataSource;
        var before = await fixture.ReadyAsync();
        var skus = Enumerable.Range(1, 20).Select(i => $"FO-{label}-{i:00}").ToArray();
        await InventoryDatabase.SeedStockAsync(dataSource, skus, 100_000);
        var prefix = $"fo-{label}-{Guid.NewGuid().ToString("N")[..6]}";
        var stream = Workload.Mixed(prefix + "-a", StreamOrders, skus, seed: 1, invalidRatio: 0.02);
        var later = Workload.Mixed(prefix + "-b", AfterOrders, skus, seed: 2);
        string[] ids = [.. stream.Ids, .. later.Ids];
        try
        {
            var publishing = fixture.Bus.PublishAllAsync(stream.Orders, perSecond: 250);

            // Mid-stream: the leader has committed some of the stream, the rest is still coming.
            await Eventually.TrueAsync(async () => await PipelineDb.CommittedUnderAsync(dataSource, stream.Ids, before.Token.Generation, before.Token.Sequence) >= 150,
                TimeSpan.FromSeconds(90), $"{before.NodeId} to commit 150 orders under {before.Token}", TimeSpan.FromMilliseconds(50));
            var streamDone = publishing.IsCompleted;
            await fixture.Cluster.WaitStandbyArmedAsync(before); // a standby restarted a moment ago may not wait on the signal yet

            var clock = Stopwatch.StartNew();
            await fault(before.Index);
            var gone = clock.Elapsed;
            var after = await fixture.Cluster.LeaderAsync(newerThan: before.Token, timeout: TimeSpan.FromSeconds(60));
            var failover = clock.Elapsed;
            output.WriteLine($"{label}: {before.NodeId} {before.Token} gone after {Ms(gone)} ms; {after.NodeId} leads with {after.Token} {Ms(failover)} ms after the signal " +
                             $"({Ms(failover - gone)} ms after the exit); publisher {(streamDone ? "done" : "still publishing")} at the fault");

            await publishing;
            await fixture.Bus.PublishAllAsync(later.Orders);
            await PipelineDb.WaitDecidedAsync(dataSource, ids, TimeSpan.FromMinutes(3), fixture.Describe);
            await fixture.Bus.Events.WaitForAllAsync(ids, TimeSpan.FromSeconds(60));

            Assert.NotEqual(before.NodeId, after.NodeId);
            Assert.True(after.Token > before.Token, $"new token {after.Token} is not greater than {before.Token}");
            Assert.True(failover < failoverLimit, $"the handover took {Ms(failover)} ms (limit {failoverLimit.TotalSeconds} s)");
            Assert.True(afterExitLimit is null || failover - gone < afterExitLimit,
                $"the successor led {Ms(failover - gone)} ms after the leader exited: it waited for the session to expire instead of a resignation");

            // The successor says why it leads, on /status.
            var led = await Eventually.GetAsync(async () => Checks.LastLed(await fixture.Cluster.StatusAsync(after.Index)) is var l && l.Token == after.Token.ToString() ? Tuple.Create(l) : null,
                TimeSpan.FromSeconds(10), $"{after.NodeId}'s /status history to say why it leads", TimeSpan.FromMilliseconds(50)) is var found ? found.Item1 : default;
            output.WriteLine($"{after.NodeId}'s last succession: {led}");
            Assert.True(cause is null || (led.Detail == cause && led.Previous == before.NodeId), $"{after.NodeId} led after {led.Previous} ({led.Detail}); expected after {before.NodeId} ({cause})");
            if (leaderSurvives)
            {
                // The deposed leader is alive, no longer leads and stands again behind its successor.
                Assert.True(fixture.Cluster[before.Index].IsRunning, $"{before.NodeId} exited\n{ReplicaCluster.Tail(fixture.Cluster[before.Index])}");
                await Eventually.TrueAsync(async () => await fixture.Cluster.StatusAsync(before.Index) is { IsLeader: false } s && s.Candidates.Any(c => c.NodeId == before.NodeId),
                    TimeSpan.FromSeconds(30), $"{before.NodeId} to stand again as a candidate\n{fixture.Describe()}", TimeSpan.FromMilliseconds(100));
            }

            // The successor warmed its commit path up before it could lead (CommitPathWarmUp), and that decided nothing.
            Assert.Contains("Commit path warmed up", await File.ReadAllTextAsync(fixture.Cluster[after.Index].LogPath));
            await using (var warmUpRows = dataSource.CreateCommand("SELECT count(*) FROM inventory_commits WHERE order_id = 'warm-up'"))
            {
                Assert.Equal(0L, (long)(await warmUpRows.ExecuteScalarAsync())!);
            }

            await Checks.DecisionsMatchEventsAsync(dataSource, fixture.Bus.Events, ids);
            await Checks.InvariantsHoldAsync(dataSource, ids);
            var ledger = await PipelineDb.LedgerAsync(dataSource);
            await Checks.LedgerTokensWereHeldByLeadersAsync(fixture, ledger);

            var ours = ledger.Where(r => ids.Contains(r.OrderId)).ToList();
            var tokens = ours.GroupBy(r => (r.NodeId, r.Generation, r.Sequence)).Select(g => $"{g.Key.NodeId} {g.Key.Generation}:{g.Key.Sequence} x{g.Count()}");
            output.WriteLine($"ledger rows of this test by token: {string.Join(", ", tokens)}");
            Assert.Contains(ours, r => r.NodeId == before.NodeId && (r.Generation, r.Sequence) == (before.Token.Generation, before.Token.Sequence));
            Assert.Contains(ours, r => (r.Generation, r.Sequence).CompareTo((after.Token.Generation, after.Token.Sequence)) >= 0);
            Assert.All(ours, r => Assert.True((r.Generation, r.Sequence).CompareTo((before.Token.Generation, before.Token.Sequence)) >= 0, $"{r} predates the test's first leader"));
        }
        finally
        {
            var restart = Stopwatch.StartNew();
            await fixture.Cluster.RestartStoppedAsync();
            output.WriteLine($"restarted the stopped replica in {Ms(restart.Elapsed)} ms; logs in {fixture.Cluster.LogDirectory}");
        }
    }

    private static string Ms(TimeSpan t) => t.TotalMilliseconds.ToString("0", System.Globalization.CultureInfo.InvariantCulture);
}
