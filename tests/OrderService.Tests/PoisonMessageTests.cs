using System.Text;
using Pipeline.Contracts;
using Pipeline.Inventory;
using Pipeline.Inventory.Model;
using Pipeline.OrderService.Messaging;
using Pipeline.OrderService.Tests.Cluster;
using Pipeline.Testing;
using RabbitMQ.Client;
using Xunit.Abstractions;

namespace Pipeline.OrderService.Tests;

/// <summary>Messages no replica can take (malformed JSON, a content type nobody reads, an order without an id) are parked in
/// order-intake_error with MassTransit's fault headers instead of looping or vanishing, and the replicas keep working.</summary>
[Collection(ClusterCollection.Name)]
public sealed class PoisonMessageTests(ClusterFixture fixture, ITestOutputHelper output)
{
    private const string ErrorQueue = Topology.IntakeQueue + "_error";
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Poison_messages_land_in_the_error_queue_with_fault_headers_and_the_replicas_keep_deciding()
    {
        await fixture.ReadyAsync();
        var malformed = (Id: Guid.NewGuid(), Body: """{"messageId":"x","messageType":["urn:message:Pipeline.Contracts:OrderSubmitted"],"message":{"orderId":"""u8.ToArray());
        var mistyped = (Id: Guid.NewGuid(), Body: "order 42: two of SKU-00001, please"u8.ToArray());
        await using var connection = await new ConnectionFactory { Uri = fixture.VirtualHost.AmqpUri }.CreateConnectionAsync();
        await using (var publisher = await connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true)))
        {
            await publisher.BasicPublishAsync("", Topology.IntakeQueue, mandatory: true,
                new BasicProperties { MessageId = malformed.Id.ToString(), ContentType = "application/vnd.masstransit+json", Persistent = true }, malformed.Body);
            await publisher.BasicPublishAsync("", Topology.IntakeQueue, mandatory: true,
                new BasicProperties { MessageId = mistyped.Id.ToString(), ContentType = "text/plain", Persistent = true }, mistyped.Body);
        }

        // A well-formed message the consumer refuses (no usable order id): retried, then parked, never silently dropped.
        var noId = Guid.NewGuid();
        await fixture.Bus.PublishAsync(Workload.Order("", ("SKU-00001", 1)), noId);

        var parked = await ParkedAsync(connection, [malformed.Id, mistyped.Id, noId]);
        foreach (var (id, what) in new[] { (malformed.Id, "malformed JSON"), (mistyped.Id, "text/plain"), (noId, "no order id") })
        {
            var message = parked[id];
            var headers = (message.BasicProperties.Headers ?? new Dictionary<string, object?>()).ToDictionary(h => h.Key, h => Text(h.Value));
            output.WriteLine($"{what}: {string.Join(", ", headers.Select(h => $"{h.Key}={Shorten(h.Value)}"))}");
            Assert.True(headers.ContainsKey("MT-Fault-ExceptionType"), $"{what}: no MT-Fault-ExceptionType header among {string.Join(", ", headers.Keys)}");
            Assert.True(headers.ContainsKey("MT-Fault-Message"), $"{what}: no MT-Fault-Message header among {string.Join(", ", headers.Keys)}");
            Assert.True(headers.ContainsKey("MT-Fault-InputAddress") || headers.ContainsKey("MT-Reason"), $"{what}: no fault origin header");
        }

        Assert.Equal(malformed.Body, parked[malformed.Id].Body.ToArray());
        Assert.Equal(mistyped.Body, parked[mistyped.Id].Body.ToArray());

        // Still working: every replica up and consuming, and a valid order is decided.
        Assert.All(fixture.Cluster.Replicas, r => Assert.True(r.IsRunning, $"{r} stopped"));
        await fixture.Cluster.WaitReadyAsync();
        await using (var channel = await connection.CreateChannelAsync())
        {
            var intake = await channel.QueueDeclarePassiveAsync(Topology.IntakeQueue);
            Assert.Equal((uint)ClusterFixture.Replicas, intake.ConsumerCount);
        }

        await InventoryDatabase.SeedStockAsync(fixture.Database.DataSource, ["POISON-OK"], 10);
        var valid = Workload.Order("after-poison-" + Guid.NewGuid().ToString("N")[..6], ("POISON-OK", 1));
        await fixture.Bus.PublishAsync(valid);
        await PipelineDb.WaitDecidedAsync(fixture.Database.DataSource, [valid.OrderId], Wait, fixture.Describe);
        await fixture.Bus.Events.WaitForAsync<OrderConfirmed>(valid.OrderId, _ => true, Wait);
        var (orders, _) = await Checks.DecisionsMatchEventsAsync(fixture.Database.DataSource, fixture.Bus.Events, [valid.OrderId]);
        Assert.Equal(OrderStatus.Confirmed, orders[valid.OrderId].Status);
    }

    /// <summary>Takes messages off the error queue until every id in <paramref name="ids"/> is there (the queue is
    /// declared by MassTransit with the first fault, so it may not exist yet).</summary>
    private static async Task<Dictionary<Guid, BasicGetResult>> ParkedAsync(IConnection connection, Guid[] ids)
    {
        var found = new Dictionary<Guid, BasicGetResult>();
        await Eventually.TrueAsync(async () =>
        {
            await using var channel = await connection.CreateChannelAsync();
            while (await channel.BasicGetAsync(ErrorQueue, autoAck: true) is { } message)
            {
                if (Guid.TryParse(message.BasicProperties.MessageId, out var id) && ids.Contains(id))
                {
                    found[id] = message;
                }
            }

            return found.Count == ids.Length;
        }, TimeSpan.FromSeconds(90), $"{ids.Length} poison messages in {ErrorQueue} (found {found.Count})", TimeSpan.FromMilliseconds(250));
        return found;
    }

    private static string Text(object? value) => value switch
    {
        byte[] bytes => Encoding.UTF8.GetString(bytes),
        null => "",
        _ => value.ToString() ?? "",
    };

    private static string Shorten(string text) => text.Length <= 80 ? text : text[..80] + "...";
}
