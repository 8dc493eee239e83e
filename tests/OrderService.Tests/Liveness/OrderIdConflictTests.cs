using Pipeline.Contracts;
using Pipeline.Inventory;
using Pipeline.OrderService.Tests.Cluster;
using Pipeline.Testing;
using Xunit.Abstractions;

namespace Pipeline.OrderService.Tests.Liveness;

/// <summary>An order id reused for other content is announced with OrderIdConflict, never as a decision of the order recorded
/// under that id: a consumer keyed by order id must not read "rejected" for an order that was confirmed.</summary>
[Collection(ClusterCollection.Name)]
public sealed class OrderIdConflictTests(ClusterFixture fixture, ITestOutputHelper output)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task A_reused_id_is_announced_as_a_conflict_never_as_a_decision_and_the_stored_order_is_unchanged()
    {
        await fixture.ReadyAsync();
        await InventoryDatabase.SeedStockAsync(fixture.Database.DataSource, ["DUP-3"], 1000);
        var prefix = "conflict-" + Guid.NewGuid().ToString("N")[..6];
        var confirmed = Workload.Order(prefix + "-confirmed", ("DUP-3", 1));
        var invalid = Workload.Order(prefix + "-invalid", ("DUP-3", -1));
        string[] ids = [confirmed.OrderId, invalid.OrderId];
        await Task.WhenAll(fixture.Bus.PublishAsync(confirmed), fixture.Bus.PublishAsync(invalid));
        await PipelineDb.WaitDecidedAsync(fixture.Database.DataSource, ids, Wait, fixture.Describe);
        await fixture.Bus.Events.WaitForAllAsync(ids, Wait);
        var ordersBefore = await PipelineDb.OrdersAsync(fixture.Database.DataSource, ids);
        var ledgerBefore = (await PipelineDb.LedgerAsync(fixture.Database.DataSource)).Where(r => ids.Contains(r.OrderId)).ToList();
        var decisionsBefore = ids.ToDictionary(id => id, id => fixture.Bus.Events.For(id).Distinct().ToList());

        OrderSubmitted[] others =
        [
            confirmed with { Lines = [new OrderLine { Sku = "DUP-3", Quantity = 5 }] },
            confirmed with { CustomerId = "someone else" },
            invalid with { Lines = [new OrderLine { Sku = "DUP-3", Quantity = 1 }] },
        ];
        await Task.WhenAll(others.Select(o => fixture.Bus.PublishAsync(o)));
        foreach (var id in ids)
        {
            var expected = others.Count(o => o.OrderId == id);
            await Eventually.TrueAsync(() => Task.FromResult(fixture.Bus.Events.ConflictsFor(id).Count >= expected), Wait, $"{expected} OrderIdConflict notice(s) for {id}");
            output.WriteLine($"{id}: {string.Join("; ", fixture.Bus.Events.ConflictsFor(id).Select(c => $"{c.CustomerId}: {c.Detail}"))}");
        }

        await fixture.IntakeIdleAsync();

        // The decisions announced for the ids are still only the stored orders' own: no OrderRejected appeared for the
        // confirmed order, and the invalid order's rejection is still the one for its own content.
        foreach (var id in ids)
        {
            Assert.Equal(decisionsBefore[id], fixture.Bus.Events.For(id).Distinct().ToList());
        }

        Assert.DoesNotContain(fixture.Bus.Events.For(confirmed.OrderId), e => e is OrderRejected);
        Assert.Equal(ordersBefore, await PipelineDb.OrdersAsync(fixture.Database.DataSource, ids));
        Assert.Equal(ledgerBefore, (await PipelineDb.LedgerAsync(fixture.Database.DataSource)).Where(r => ids.Contains(r.OrderId)).ToList());
        await Checks.DecisionsMatchEventsAsync(fixture.Database.DataSource, fixture.Bus.Events, ids);
        await Checks.InvariantsHoldAsync(fixture.Database.DataSource, ids);
    }
}
