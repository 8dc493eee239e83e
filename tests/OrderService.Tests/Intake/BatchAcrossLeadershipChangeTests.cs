using Pipeline.Inventory;
using Pipeline.OrderService.Tests.Cluster;
using Pipeline.Testing;
using Xunit.Abstractions;

namespace Pipeline.OrderService.Tests.Intake;

/// <summary>An intake batch forwarded to one leader and decided by the next: the leader is frozen (SIGSTOP) while the other
/// replicas record their share of a burst of orders and forward it, then killed (SIGKILL) with the forwarded commands in
/// its prefetch (and its share of the burst in its intake prefetch). The broker gives them all to the others; the successor
/// decides every order once, under its own token.</summary>
[Collection(ClusterCollection.Name)]
public sealed class BatchAcrossLeadershipChangeTests(ClusterFixture fixture, ITestOutputHelper output)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task A_batch_forwarded_to_a_leader_that_dies_is_decided_once_by_the_next()
    {
        var before = await fixture.ReadyAsync();
        var run = Guid.NewGuid().ToString("N")[..6];
        await InventoryDatabase.SeedStockAsync(fixture.Database.DataSource, [$"STRADDLE-{run}"], 1000);
        var orders = Enumerable.Range(0, 40).Select(i => Workload.Order($"straddle-{run}-{i:00}", ($"STRADDLE-{run}", 1))).ToList();
        string[] ids = [.. orders.Select(o => o.OrderId)];

        fixture.Cluster.Pause(before.Index);
        try
        {
            await Task.WhenAll(orders.Select(o => fixture.Bus.PublishAsync(o)));
            // The other replicas record their share (the frozen leader holds the rest in its intake prefetch) and forward
            // it to the frozen leader's commit endpoint.
            await Eventually.TrueAsync(async () => (await PipelineDb.OrdersAsync(fixture.Database.DataSource, ids)).Count >= ids.Length / 3,
                Wait, "the other replicas to record their share of the burst (and forward it to the frozen leader)");
        }
        finally
        {
            fixture.Cluster.Kill(before.Index);
        }

        var after = await fixture.Cluster.LeaderAsync(newerThan: before.Token, timeout: Wait);
        await PipelineDb.WaitDecidedAsync(fixture.Database.DataSource, ids, Wait, fixture.Describe);
        await fixture.Bus.Events.WaitForAllAsync(ids, Wait);
        output.WriteLine($"{before.NodeId} {before.Token} killed with the batch; {after.NodeId} leads with {after.Token}");

        var ledger = (await PipelineDb.LedgerAsync(fixture.Database.DataSource)).Where(r => ids.Contains(r.OrderId)).ToList();
        Assert.Equal(ids.Length, ledger.Count);
        Assert.Equal(ids.Length, ledger.Select(r => r.OrderId).Distinct().Count());
        Assert.All(ledger, r => Assert.True((r.Generation, r.Sequence) == (after.Token.Generation, after.Token.Sequence),
            $"{r.OrderId} committed under {r.Generation}:{r.Sequence}, not the successor's {after.Token}"));
        await Checks.DecisionsMatchEventsAsync(fixture.Database.DataSource, fixture.Bus.Events, ids);
        await Checks.InvariantsHoldAsync(fixture.Database.DataSource, ids);
        Assert.Equal(1000 - ids.Length, await fixture.ScalarAsync<int>($"SELECT on_hand FROM stock WHERE sku = 'STRADDLE-{run}'"));
    }
}
