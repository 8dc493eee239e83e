using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.Contracts;
using Pipeline.Inventory;
using Pipeline.Inventory.Model;
using Pipeline.OrderService.Commit;
using Pipeline.OrderService.Messaging;
using Pipeline.OrderService.Tests.Cluster;
using Pipeline.Testing;
using RabbitMQ.Client;
using Xunit.Abstractions;

namespace Pipeline.OrderService.Tests.Intake;

/// <summary>
/// The batched intake's edge cases, on one replica in this process with a database, virtual host and ZooKeeper chroot of
/// its own (each test a new set). The orders of a case are published while no replica consumes, so they wait in order-intake and the replica's
/// first intake batch takes them together (time limit 2 s, size 100): one round trip records them, one command forwards them.
/// </summary>
public sealed class IntakeBatchTests(ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);
    private static readonly Dictionary<string, string> Settings = new() { ["Pipeline:IntakeBatchTimeLimit"] = "00:00:02" };
    private readonly InProcessReplicas services = new();
    private OrderBus bus = null!;

    public async Task InitializeAsync()
    {
        await services.InitializeAsync();
        await InventoryDatabase.SeedStockAsync(services.Database.DataSource, ["BATCH-A", "BATCH-B"], 1000);

        // A first replica declares the queues and their bindings, then stops: from now on published orders wait in order-intake.
        await using (var app = services.Build("intake-declare", Settings))
        {
            await app.StartReadyAsync();
            await app.StopAsync();
        }

        bus = await OrderBus.StartAsync(services.VirtualHost.AmqpUri);
    }

    public async Task DisposeAsync()
    {
        await bus.DisposeAsync();
        await services.DisposeAsync();
    }

    [Fact]
    public async Task A_batch_with_invalid_conflicting_and_duplicate_orders_records_each_id_once_and_decides_it_once()
    {
        var run = Guid.NewGuid().ToString("N")[..6];
        var stored = Workload.Order($"stored-{run}", ("BATCH-A", 1));
        await RunReplicaAsync("intake-1", async _ =>
        {
            await bus.PublishAsync(stored);
            await PipelineDb.WaitDecidedAsync(services.Database.DataSource, [stored.OrderId], Wait);
        });

        var valid = Workload.Order($"valid-{run}", ("BATCH-A", 2));
        var other = Workload.Order($"other-{run}", ("BATCH-B", 1));
        var invalid = Workload.Order($"invalid-{run}", ("BATCH-A", 0));
        var twice = Workload.Order($"twice-{run}", ("BATCH-B", 3));
        OrderSubmitted[] batch =
        [
            valid, invalid, other,
            valid, // the same order twice in one batch
            stored with { Lines = [new OrderLine { Sku = "BATCH-A", Quantity = 9 }] }, // an id recorded before, other content
            twice, twice with { CustomerId = "someone else" }, // one id, two contents, in one batch
        ];
        foreach (var order in batch)
        {
            await bus.PublishAsync(order);
        }

        string[] decided = [valid.OrderId, other.OrderId, invalid.OrderId, twice.OrderId];
        await RunReplicaAsync("intake-2", async _ =>
        {
            await PipelineDb.WaitDecidedAsync(services.Database.DataSource, decided, Wait);
            await bus.Events.WaitForAllAsync(decided, Wait);
            await Eventually.TrueAsync(() => Task.FromResult(bus.Events.ConflictsFor(stored.OrderId).Count == 1 && bus.Events.ConflictsFor(twice.OrderId).Count == 1),
                Wait, "one OrderIdConflict for the stored order's id and one for the id sent twice with two contents");
            await services.VirtualHost.WaitDrainedAsync(Topology.IntakeQueue, Wait);
        });

        var orders = await PipelineDb.OrdersAsync(services.Database.DataSource, [.. decided, stored.OrderId]);
        output.WriteLine(string.Join("\n", orders.Values.Select(o => $"{o.OrderId}: {o.Status} {o.Reason} {o.Detail}")));
        Assert.Equal(OrderStatus.Confirmed, orders[valid.OrderId].Status);
        Assert.Equal(OrderStatus.Confirmed, orders[other.OrderId].Status);
        Assert.Equal(OrderStatus.Rejected, orders[invalid.OrderId].Status);
        Assert.Equal(nameof(RejectionReason.Invalid), orders[invalid.OrderId].Reason);
        Assert.Equal(OrderStatus.Confirmed, orders[twice.OrderId].Status);
        Assert.Equal(twice.CustomerId, orders[twice.OrderId].CustomerId);
        Assert.Equal(stored.CustomerId, orders[stored.OrderId].CustomerId);
        var ledger = (await PipelineDb.LedgerAsync(services.Database.DataSource)).ToLookup(r => r.OrderId);
        Assert.All([valid.OrderId, other.OrderId, twice.OrderId, stored.OrderId], id => Assert.Single(ledger[id]));
        Assert.Empty(ledger[invalid.OrderId]);
        Assert.Equal(1000 - 1 - 2, await services.Database.ScalarAsync<int>("SELECT on_hand FROM stock WHERE sku = 'BATCH-A'"));
        Assert.Single(bus.Events.For(valid.OrderId).Distinct());
        Assert.IsType<OrderRejected>(Assert.Single(bus.Events.For(invalid.OrderId).Distinct()));
        await Checks.DecisionsMatchEventsAsync(services.Database.DataSource, bus.Events, decided);
    }

    [Fact]
    public async Task A_forward_that_fails_after_the_record_is_retried_until_it_goes_and_every_order_is_decided_once()
    {
        var run = Guid.NewGuid().ToString("N")[..6];
        var orders = Enumerable.Range(0, 12).Select(i => Workload.Order($"unrouted-{run}-{i:00}", ("BATCH-A", 1))).ToList();
        string[] ids = [.. orders.Select(o => o.OrderId)];
        await using var connection = await new ConnectionFactory { Uri = services.VirtualHost.AmqpUri }.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        var log = new RecordedLog();
        await RunReplicaAsync("intake-3", async app =>
        {
            // The route goes once the replica's commit endpoint consumes (it binds the queue before it consumes).
            var leadership = app.Services.GetRequiredService<FencedLeadership>();
            await Eventually.TrueAsync(async () => leadership.Current is not null && (await channel.QueueDeclarePassiveAsync(Topology.CommitQueue)).ConsumerCount > 0,
                Wait, "the replica to lead and consume inventory-commit");
            await channel.QueueUnbindAsync(Topology.CommitQueue, Topology.CommitQueue, "");
            try
            {
                await Task.WhenAll(orders.Select(o => bus.PublishAsync(o)));

                // Recorded, then the broker returns the forward: the batch fails and comes back; nothing is decided meanwhile.
                await Eventually.TrueAsync(async () => (await PipelineDb.OrdersAsync(services.Database.DataSource, ids)).Count == ids.Length, Wait, "the orders to be recorded");
                await Eventually.TrueAsync(() => Task.FromResult(log.Contains("was returned by the broker") || log.Contains("MessageReturnedException")), Wait, "a forward to be returned");
                Assert.All((await PipelineDb.OrdersAsync(services.Database.DataSource, ids)).Values, o => Assert.Equal(OrderStatus.Received, o.Status));
            }
            finally
            {
                await channel.QueueBindAsync(Topology.CommitQueue, Topology.CommitQueue, "");
            }

            await PipelineDb.WaitDecidedAsync(services.Database.DataSource, ids, Wait);
            await bus.Events.WaitForAllAsync(ids, Wait);
            await services.VirtualHost.WaitDrainedAsync(Topology.IntakeQueue, Wait);
        }, log);

        var ledger = (await PipelineDb.LedgerAsync(services.Database.DataSource)).ToLookup(r => r.OrderId);
        Assert.All(ids, id => Assert.Single(ledger[id]));
        await Checks.DecisionsMatchEventsAsync(services.Database.DataSource, bus.Events, ids);
        Assert.Equal(0L, await services.Database.ScalarAsync<long>($"SELECT count(*) FROM orders WHERE order_id LIKE 'unrouted-{run}-%' AND status <> 'Confirmed'"));
    }

    [Fact]
    public async Task A_whole_batch_delivered_again_before_and_after_its_decisions_is_decided_once()
    {
        var run = Guid.NewGuid().ToString("N")[..6];
        var orders = Enumerable.Range(0, 15).Select(i => Workload.Order($"again-{run}-{i:00}", ("BATCH-B", 1))).ToList();
        string[] ids = [.. orders.Select(o => o.OrderId)];
        var messageIds = orders.ToDictionary(o => o.OrderId, _ => Guid.NewGuid());

        // Each message twice, with its own message id, before the replica consumes: the batch and its redelivery together.
        foreach (var order in orders.Concat(orders))
        {
            await bus.PublishAsync(order, messageIds[order.OrderId]);
        }

        await RunReplicaAsync("intake-4", async _ =>
        {
            await PipelineDb.WaitDecidedAsync(services.Database.DataSource, ids, Wait);
            await bus.Events.WaitForAllAsync(ids, Wait);

            // And once more after the decisions: nothing is forwarded or decided again.
            foreach (var order in orders)
            {
                await bus.PublishAsync(order, messageIds[order.OrderId]);
            }

            await services.VirtualHost.WaitDrainedAsync(Topology.IntakeQueue, Wait);
        });

        var ledger = (await PipelineDb.LedgerAsync(services.Database.DataSource)).ToLookup(r => r.OrderId);
        Assert.All(ids, id => Assert.Single(ledger[id]));
        Assert.All(ids, id => Assert.Single(bus.Events.For(id).Distinct()));
        Assert.Equal(1000 - orders.Count, await services.Database.ScalarAsync<int>("SELECT on_hand FROM stock WHERE sku = 'BATCH-B'"));
        await Checks.DecisionsMatchEventsAsync(services.Database.DataSource, bus.Events, ids);
    }

    [Fact]
    public async Task A_command_of_a_version_this_release_does_not_know_is_parked_with_its_reason_not_guessed_at()
    {
        var order = new CommitInventory { OrderId = $"v2-{Guid.NewGuid():N}"[..20], Lines = [new OrderLine { Sku = "BATCH-A", Quantity = 1 }] };
        await using var connection = await new ConnectionFactory { Uri = services.VirtualHost.AmqpUri }.CreateConnectionAsync();
        await RunReplicaAsync("intake-5", async app =>
        {
            var leadership = app.Services.GetRequiredService<FencedLeadership>();
            await Eventually.TrueAsync(() => Task.FromResult(leadership.Current is not null), Wait, "the replica to lead");
            var commit = await app.Services.GetRequiredService<MassTransit.IBus>().GetSendEndpoint(Topology.CommitAddress);
            await commit.Send(new CommitInventoryBatch { Version = CommitInventoryBatch.CurrentVersion + 1, Orders = [order] });

            var parked = await ParkedMessages.TakeContainingAsync(connection, Topology.CommitQueue + "_error", order.OrderId, Wait);
            var reason = ParkedMessages.Header(parked, "MT-Fault-Message");
            output.WriteLine(reason);
            Assert.Contains($"version {CommitInventoryBatch.CurrentVersion + 1}", reason, StringComparison.Ordinal);
        });

        Assert.DoesNotContain(await PipelineDb.LedgerAsync(services.Database.DataSource), r => r.OrderId == order.OrderId);
    }

    /// <summary>Starts a replica, runs <paramref name="body"/> against it, stops it.</summary>
    private async Task RunReplicaAsync(string nodeId, Func<WebApplication, Task> body, RecordedLog? log = null)
    {
        await using var app = services.Build(nodeId, Settings, log);
        await app.StartReadyAsync();
        try
        {
            await body(app);
        }
        finally
        {
            await app.StopAsync();
        }
    }
}
