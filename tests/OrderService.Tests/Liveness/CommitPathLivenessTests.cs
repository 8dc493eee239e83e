using System.Text;
using Npgsql;
using Pipeline.Contracts;
using Pipeline.Inventory;
using Pipeline.Inventory.Model;
using Pipeline.OrderService.Messaging;
using Pipeline.OrderService.Tests.Cluster;
using Pipeline.Testing;
using RabbitMQ.Client;
using Xunit.Abstractions;

namespace Pipeline.OrderService.Tests.Liveness;

/// <summary>
/// Every recorded order is eventually decided, whatever happens to its messages: a poison command fails alone (the good
/// orders of its batch commit), a forward the broker cannot route fails its intake delivery instead of vanishing, and an
/// order whose command was lost is decided by the leader's re-drive. The cluster runs with a 3 s re-drive age.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class CommitPathLivenessTests(ClusterFixture fixture, ITestOutputHelper output)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task A_poison_command_fails_alone_and_the_good_orders_of_its_batch_commit()
    {
        var run = Guid.NewGuid().ToString("N")[..6];
        await InventoryDatabase.SeedStockAsync(fixture.Database.DataSource, ["POISON-SPLIT"], 1000);
        var poison = Workload.Order($"poison-{run}", ("POISON-SPLIT", 1));
        var good = Enumerable.Range(0, 40).Select(i => Workload.Order($"split-{run}-{i:00}", ("POISON-SPLIT", 1))).ToList();

        // A fault no validation can foresee: the database refuses this one order's ledger row. Its batch's transaction fails,
        // non-transiently, for every order in it.
        var trigger = $"refuse_poison_{run}";
        await fixture.ExecuteAsync($"""
            CREATE FUNCTION {trigger}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN IF NEW.order_id = '{poison.OrderId}' THEN RAISE EXCEPTION 'poison order %', NEW.order_id; END IF; RETURN NEW; END $$;
            CREATE TRIGGER {trigger} BEFORE INSERT ON inventory_commits FOR EACH ROW EXECUTE FUNCTION {trigger}();
            """);
        var leader = await fixture.ReadyAsync();
        var retriesBefore = CommitRetries();
        try
        {
            // One batch for them all: the leader is frozen (well within its session) while the other replicas record the
            // orders and forward them; on SIGCONT its prefetch hands it the whole burst at once.
            fixture.Cluster.Pause(leader.Index);
            try
            {
                await Task.WhenAll(good.Take(20).Append(poison).Concat(good.Skip(20)).Select(o => fixture.Bus.PublishAsync(o)));
                var clock = System.Diagnostics.Stopwatch.StartNew();
                while (clock.Elapsed < TimeSpan.FromMilliseconds(800) && await fixture.ScalarAsync<long>($"SELECT count(*) FROM orders WHERE order_id LIKE 'split-{run}-%' OR order_id = '{poison.OrderId}'") < 20)
                {
                    await Task.Delay(20);
                }
            }
            finally
            {
                fixture.Cluster.Resume(leader.Index);
            }

            string[] goodIds = [.. good.Select(o => o.OrderId)];
            await PipelineDb.WaitDecidedAsync(fixture.Database.DataSource, goodIds, Wait, fixture.Describe);
            await fixture.Bus.Events.WaitForAllAsync(goodIds, Wait);
            var (orders, _) = await Checks.DecisionsMatchEventsAsync(fixture.Database.DataSource, fixture.Bus.Events, goodIds);
            Assert.All(goodIds, id => Assert.Equal(OrderStatus.Confirmed, orders[id].Status));

            // Only the poison command was retried (MassTransit's retry policy: five times); the good orders of its batch
            // committed on their first delivery, not after retries that happened to leave the poison behind.
            var retried = CommitRetries() - retriesBefore;
            Assert.True(retried <= 5, $"{retried} commit deliveries were retried; only the poison command's 5 retries were expected");

            // The poison command alone ends in the error queue, with the database's reason.
            var parked = await ParkedAsync(poison.OrderId);
            var fault = ParkedMessages.Header(parked, "MT-Fault-Message");
            output.WriteLine($"parked {poison.OrderId}: {fault}");
            Assert.Contains("poison order", fault, StringComparison.Ordinal);
            Assert.Equal(OrderStatus.Received, (await PipelineDb.OrdersAsync(fixture.Database.DataSource, [poison.OrderId]))[poison.OrderId].Status);
            Assert.NotEmpty(fixture.Cluster.LogLinesContaining($"Order {poison.OrderId} cannot be committed"));
            Assert.Equal(0L, await ErrorQueueDepthAsync());
        }
        finally
        {
            await fixture.ExecuteAsync($"DROP TRIGGER IF EXISTS {trigger} ON inventory_commits; DROP FUNCTION IF EXISTS {trigger}(); DELETE FROM orders WHERE order_id = '{poison.OrderId}'");
        }
    }

    [Fact]
    public async Task An_unroutable_forward_fails_its_intake_delivery_and_the_order_is_decided_once_the_route_is_back()
    {
        await fixture.ReadyAsync();
        await InventoryDatabase.SeedStockAsync(fixture.Database.DataSource, ["UNROUTABLE"], 100);
        var order = Workload.Order($"unroutable-{Guid.NewGuid():N}"[..24], ("UNROUTABLE", 1));
        await using var connection = await new ConnectionFactory { Uri = fixture.VirtualHost.AmqpUri }.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        await channel.QueueUnbindAsync(Topology.CommitQueue, Topology.CommitQueue, "");
        try
        {
            await fixture.Bus.PublishAsync(order);

            // The broker returns the forward (nothing bound to the exchange): the replica says so and keeps the delivery.
            await Eventually.TrueAsync(() => Task.FromResult(fixture.Cluster.LogLinesContaining("was returned by the broker").Any(l => l.Contains(order.OrderId, StringComparison.Ordinal))),
                Wait, $"a replica to report the returned forward of {order.OrderId}");
        }
        finally
        {
            await channel.QueueBindAsync(Topology.CommitQueue, Topology.CommitQueue, "");
        }

        await PipelineDb.WaitDecidedAsync(fixture.Database.DataSource, [order.OrderId], Wait, fixture.Describe);
        await fixture.Bus.Events.WaitForAllAsync([order.OrderId], Wait);
        await fixture.IntakeIdleAsync();
        var (orders, ledger) = await Checks.DecisionsMatchEventsAsync(fixture.Database.DataSource, fixture.Bus.Events, [order.OrderId]);
        Assert.Equal(OrderStatus.Confirmed, orders[order.OrderId].Status);
        Assert.Single(ledger[order.OrderId]);
    }

    [Fact]
    public async Task An_order_whose_command_was_lost_is_decided_by_the_leaders_redrive()
    {
        var leader = await fixture.ReadyAsync();
        await InventoryDatabase.SeedStockAsync(fixture.Database.DataSource, ["REDRIVE"], 100);
        var id = $"redrive-{Guid.NewGuid():N}"[..24];

        // Recorded by intake an hour ago; its CommitInventory never reached the commit queue.
        await fixture.ExecuteAsync($"""
            INSERT INTO orders (order_id, customer_id, lines, content_hash, status, received_by, received_at)
            VALUES ('{id}', 'c', '[{"{"}"sku":"REDRIVE","quantity":2{"}"}]', 'lost', 'Received', 'intake', now() - interval '1 hour')
            """);

        await PipelineDb.WaitDecidedAsync(fixture.Database.DataSource, [id], Wait, fixture.Describe);
        var confirmed = await fixture.Bus.Events.WaitForAsync<OrderConfirmed>(id, _ => true, Wait);
        output.WriteLine($"{id}: {confirmed}; {string.Join(" | ", fixture.Cluster.LogLinesContaining("Re-drove"))}");
        Assert.NotEmpty(fixture.Cluster.LogLinesContaining("Re-drove"));
        var (orders, _) = await Checks.DecisionsMatchEventsAsync(fixture.Database.DataSource, fixture.Bus.Events, [id]);
        Assert.Equal(OrderStatus.Confirmed, orders[id].Status);
        Assert.Equal(98, await fixture.ScalarAsync<int>("SELECT on_hand FROM stock WHERE sku = 'REDRIVE'"));
        Assert.True(confirmed.Token.Generation == leader.Token.Generation, $"decided under {confirmed.Token}, leader token {leader.Token}");
    }

    /// <summary>MassTransit's retry log lines of the commit endpoint so far, over every replica.</summary>
    private int CommitRetries() => fixture.Cluster.LogLinesContaining("R-RETRY").Count(line => line.Contains("/inventory-commit ", StringComparison.Ordinal));

    /// <summary>What is left in inventory-commit_error once the poison command was taken off it: nothing, if no good order was parked.</summary>
    private async Task<long> ErrorQueueDepthAsync()
    {
        await using var connection = await new ConnectionFactory { Uri = fixture.VirtualHost.AmqpUri }.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        return (await channel.QueueDeclarePassiveAsync(Topology.CommitQueue + "_error")).MessageCount;
    }

    private async Task<BasicGetResult> ParkedAsync(string orderId)
    {
        await using var connection = await new ConnectionFactory { Uri = fixture.VirtualHost.AmqpUri }.CreateConnectionAsync();
        return await ParkedMessages.TakeContainingAsync(connection, Topology.CommitQueue + "_error", orderId, Wait);
    }
}
