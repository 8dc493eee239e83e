using Pipeline.Contracts;
using Pipeline.Inventory;
using Pipeline.Inventory.Model;
using Pipeline.OrderService.Messaging;
using Pipeline.OrderService.Tests.Cluster;
using Pipeline.Testing;
using RabbitMQ.Client;
using Xunit.Abstractions;

namespace Pipeline.OrderService.Tests;

/// <summary>An order id published again with the same content is one order, decided once (other content: see
/// <see cref="Liveness.OrderIdConflictTests"/>).</summary>
[Collection(ClusterCollection.Name)]
public sealed class DuplicateOrderTests(ClusterFixture fixture, ITestOutputHelper output)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task The_same_order_published_twice_is_decided_once()
    {
        await fixture.ReadyAsync();
        await InventoryDatabase.SeedStockAsync(fixture.Database.DataSource, ["DUP-1", "DUP-2"], 1000);
        var prefix = "dup-" + Guid.NewGuid().ToString("N")[..6];
        var atOnce = Workload.Order(prefix + "-at-once", ("DUP-1", 2), ("DUP-2", 1));
        var later = Workload.Order(prefix + "-later", ("DUP-2", 3));
        var invalid = Workload.Order(prefix + "-invalid", ("DUP-1", 0));
        string[] ids = [atOnce.OrderId, later.OrderId, invalid.OrderId];

        // Twice at once (two replicas may take them concurrently), and again after the decision (a storefront's retry).
        await Task.WhenAll(fixture.Bus.PublishAsync(atOnce), fixture.Bus.PublishAsync(atOnce), fixture.Bus.PublishAsync(later), fixture.Bus.PublishAsync(invalid));
        await PipelineDb.WaitDecidedAsync(fixture.Database.DataSource, ids, Wait, fixture.Describe);
        await Task.WhenAll(fixture.Bus.PublishAsync(later with { SubmittedAt = DateTimeOffset.UtcNow }), fixture.Bus.PublishAsync(invalid));
        await fixture.IntakeIdleAsync();

        await fixture.Bus.Events.WaitForAllAsync(ids, Wait);
        var (orders, ledger) = await Checks.DecisionsMatchEventsAsync(fixture.Database.DataSource, fixture.Bus.Events, ids);
        Assert.Equal(OrderStatus.Confirmed, orders[atOnce.OrderId].Status);
        Assert.Equal(OrderStatus.Confirmed, orders[later.OrderId].Status);
        Assert.Equal((OrderStatus.Rejected, nameof(RejectionReason.Invalid)), (orders[invalid.OrderId].Status, orders[invalid.OrderId].Reason));
        Assert.Single(ledger[atOnce.OrderId]);
        Assert.Single(ledger[later.OrderId]);
        Assert.Empty(ledger[invalid.OrderId]);
        Assert.All(ids, id => Assert.Empty(fixture.Bus.Events.ConflictsFor(id)));
        output.WriteLine(string.Join("\n", ids.Select(id => $"{id}: {fixture.Bus.Events.For(id).Count} identical event(s): {fixture.Bus.Events.For(id)[0]}")));
        await Checks.InvariantsHoldAsync(fixture.Database.DataSource, ids);
    }
}
