using System.Net;
using System.Text.Json;
using Pipeline.Contracts;
using Pipeline.Inventory;
using Pipeline.Inventory.Model;
using Pipeline.OrderService.Tests.Cluster;
using Pipeline.Testing;
using Xunit.Abstractions;

namespace Pipeline.OrderService.Tests.Liveness;

/// <summary>
/// A fence that holds a token above everything the election can give (the ZooKeeper ensemble rebuilt from empty data, the
/// election path moved) refuses every leader. The replicas must not churn through candidacies writing an audit row per
/// attempt while reporting healthy: they back off, say why on /status and readiness, and the operator's guarded, audited
/// fence-reset brings the commits back.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class FenceAheadTests(ClusterFixture fixture, ITestOutputHelper output)
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(5) };

    [Fact]
    public async Task A_fence_ahead_of_the_election_backs_off_turns_readiness_red_and_an_audited_reset_brings_commits_back()
    {
        var leader = await fixture.ReadyAsync();
        var db = fixture.Database.DataSource;
        await InventoryDatabase.SeedStockAsync(db, ["FENCE-AHEAD"], 100);
        var ahead = (Generation: leader.Token.Generation + 1, Sequence: 0L);
        await fixture.ExecuteAsync($"UPDATE leader_fence SET generation = {ahead.Generation}, sequence = 0, holder = 'a rebuilt ensemble' WHERE resource = '{FenceResources.InventoryCommit}'");
        var rejectionsBefore = await fixture.ScalarAsync<long>("SELECT count(*) FROM fence_rejections");

        // The leader's next commit meets the fence; so does every candidate after it.
        var order = Workload.Order($"fence-ahead-{Guid.NewGuid():N}"[..26], ("FENCE-AHEAD", 1));
        await fixture.Bus.PublishAsync(order);
        var blocked = await Eventually.GetAsync(async () =>
        {
            foreach (var replica in fixture.Cluster.Replicas.Where(r => r.IsRunning))
            {
                var status = await fixture.Cluster.StatusAsync(replica.Index);
                if (JsonDocument.Parse(status.Json).RootElement.GetProperty("fence") is { } fence && fence.GetProperty("blocked").GetBoolean())
                {
                    return new BlockedReplica(replica.Index, fence.GetProperty("reason").GetString() ?? "");
                }
            }

            return null;
        }, TimeSpan.FromSeconds(60), "a replica to report the fence as blocking it on /status");
        output.WriteLine($"replica {blocked.Index}: {blocked.Reason}");
        Assert.Contains("fence-reset", blocked.Reason, StringComparison.Ordinal);

        using (var ready = await Http.GetAsync(new Uri(fixture.Cluster[blocked.Index].BaseAddress, "health/ready")))
        {
            var body = await ready.Content.ReadAsStringAsync();
            output.WriteLine($"readiness: {(int)ready.StatusCode} {body}");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
            Assert.Contains("fence-reset", body, StringComparison.Ordinal);
        }

        // Bounded churn: with backoff, a handful of refused attempts per replica in 15 s, not one per round trip.
        var window = DateTimeOffset.UtcNow;
        await Task.Delay(TimeSpan.FromSeconds(15));
        var refusals = await fixture.ScalarAsync<long>($"SELECT count(*) FROM fence_rejections WHERE at >= '{window:O}'");
        output.WriteLine($"{refusals} fence refusals in 15 s ({await fixture.ScalarAsync<long>("SELECT count(*) FROM fence_rejections") - rejectionsBefore} in all)");
        Assert.InRange(refusals, 1, 30);
        Assert.Equal(OrderStatus.Received, (await PipelineDb.OrdersAsync(db, [order.OrderId]))[order.OrderId].Status);

        // The reset: refused without --confirm, applied and audited with it.
        var environment = ReplicaCluster.ServiceEnvironment(fixture.Options);
        var dryRun = await ReplicaCluster.RunVerbAsync(environment, TimeSpan.FromSeconds(60), "fence-reset");
        output.WriteLine($"fence-reset: exit {dryRun.ExitCode}\n{dryRun.Output}");
        Assert.Equal(2, dryRun.ExitCode);
        Assert.Equal(ahead.Generation, await fixture.ScalarAsync<long>($"SELECT generation FROM leader_fence WHERE resource = '{FenceResources.InventoryCommit}'"));

        var applied = await ReplicaCluster.RunVerbAsync(environment, TimeSpan.FromSeconds(60), "fence-reset", "--confirm", "--reason", "test: ensemble rebuilt", "--operator", "liveness-test");
        output.WriteLine($"fence-reset --confirm: exit {applied.ExitCode}\n{applied.Output}");
        Assert.Equal(0, applied.ExitCode);
        Assert.Equal(1L, await fixture.ScalarAsync<long>(
            $"SELECT count(*) FROM fence_resets WHERE operator = 'liveness-test' AND reason = 'test: ensemble rebuilt' AND from_generation = {ahead.Generation} AND to_generation = {leader.Token.Generation} AND to_sequence = 0"));

        // Commits flow again, and every replica is ready once more.
        await PipelineDb.WaitDecidedAsync(db, [order.OrderId], TimeSpan.FromSeconds(120), fixture.Describe);
        await fixture.Bus.Events.WaitForAsync<OrderConfirmed>(order.OrderId, _ => true, TimeSpan.FromSeconds(30));
        await fixture.Cluster.WaitReadyAsync();
        await Checks.DecisionsMatchEventsAsync(db, fixture.Bus.Events, [order.OrderId]);
    }

    private sealed record BlockedReplica(int Index, string Reason);
}
