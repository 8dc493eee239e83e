using Pipeline.Contracts;
using Pipeline.Inventory;
using Pipeline.Inventory.Model;
using Pipeline.OrderService.Messaging;
using Pipeline.OrderService.Tests.Cluster;
using Pipeline.Testing;
using RabbitMQ.Client;
using Xunit.Abstractions;

namespace Pipeline.OrderService.Tests;

/// <summary>An order id published again: with the same content it is one order, decided once; with other content the second
/// message is rejected as a Conflict and the stored order stays as it was.</summary>
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
        await IntakeIdleAsync();

        await fixture.Bus.Events.WaitForAllAsync(ids, Wait);
        var (orders, ledger) = await Checks.DecisionsMatchEventsAsync(fixture.Database.DataSource, fixture.Bus.Events, ids);
        Assert.Equal(OrderStatus.Confirmed, orders[atOnce.OrderId].Status);
        Assert.Equal(OrderStatus.Confirmed, orders[later.OrderId].Status);
        Assert.Equal((OrderStatus.Rejected, nameof(RejectionReason.Invalid)), (orders[invalid.OrderId].Status, orders[invalid.OrderId].Reason));
        Assert.Single(ledger[atOnce.OrderId]);
        Assert.Single(ledger[later.OrderId]);
        Assert.Empty(ledger[invalid.OrderId]);
        Assert.All(ids, id => Assert.DoesNotContain(fixture.Bus.Events.For(id), e => e is OrderRejected { Reason: RejectionReason.Conflict }));
        output.WriteLine(string.Join("\n", ids.Select(id => $"{id}: {fixture.Bus.Events.For(id).Count} identical event(s): {fixture.Bus.Events.For(id)[0]}")));
        await Checks.InvariantsHoldAsync(fixture.Database.DataSource, ids);
    }

    [Fact]
    public async Task The_same_id_with_other_content_is_rejected_as_a_conflict_and_the_stored_order_is_unchanged()
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

        OrderSubmitted[] others =
        [
            confirmed with { Lines = [new OrderLine { Sku = "DUP-3", Quantity = 5 }] },
            confirmed with { CustomerId = "someone else" },
            invalid with { Lines = [new OrderLine { Sku = "DUP-3", Quantity = 1 }] },
        ];
        await Task.WhenAll(others.Select(o => fixture.Bus.PublishAsync(o)));
        foreach (var other in others)
        {
            var conflict = await fixture.Bus.Events.WaitForAsync<OrderRejected>(other.OrderId, e => e.Reason == RejectionReason.Conflict, Wait);
            output.WriteLine($"{other.OrderId}: {conflict.Reason}: {conflict.Detail}");
        }

        await IntakeIdleAsync();
        Assert.Equal(ordersBefore, await PipelineDb.OrdersAsync(fixture.Database.DataSource, ids));
        Assert.Equal(ledgerBefore, (await PipelineDb.LedgerAsync(fixture.Database.DataSource)).Where(r => ids.Contains(r.OrderId)).ToList());
        await Checks.DecisionsMatchEventsAsync(fixture.Database.DataSource, fixture.Bus.Events, ids);
        await Checks.InvariantsHoldAsync(fixture.Database.DataSource, ids);
    }

    /// <summary>The intake queue has nothing ready, then a quiet second for what replicas hold in flight.</summary>
    private async Task IntakeIdleAsync()
    {
        await using var connection = await new ConnectionFactory { Uri = fixture.VirtualHost.AmqpUri }.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        await Pipeline.Testing.Eventually.TrueAsync(async () => (await channel.QueueDeclarePassiveAsync(Topology.IntakeQueue)).MessageCount == 0, Wait, "order-intake to be empty");
        await Task.Delay(TimeSpan.FromSeconds(1));
    }
}
