using System.Text;
using MassTransit;
using Pipeline.Contracts;
using Pipeline.Testing;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using RabbitMQ.Client.Exceptions;

namespace Pipeline.Storefront.Tests;

/// <summary>
/// The storefront user with exactly the permissions of deploy/rabbitmq/definitions.json, in a virtual host of this class:
/// MassTransit can publish an order with it and consume decisions from a queue of its own; the broker refuses it
/// (ACCESS_REFUSED) the commit exchange, the commit queue and the order stream of other storefronts. A fake intake on the
/// test's full-permission user stands in for the replicas.
/// </summary>
public sealed class StorefrontPermissionTests : IAsyncLifetime
{
    private const string CommitExchange = "inventory-commit";
    private const string IntakeExchange = "Pipeline.Contracts:OrderSubmitted";
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    private readonly RabbitMqVirtualHost virtualHost = new();
    private RabbitMqUser storefront = null!;

    public async Task InitializeAsync()
    {
        await virtualHost.InitializeAsync();
        storefront = await RabbitMqUser.CreateAsync(virtualHost, "storefront", RepositoryFiles.PermissionsOf("storefront"));

        // What the replicas declare: the commit exchange and queue, and the intake exchange.
        await using var connection = await new ConnectionFactory { Uri = virtualHost.AmqpUri }.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        await channel.ExchangeDeclareAsync(CommitExchange, ExchangeType.Fanout, durable: true);
        await channel.QueueDeclareAsync(CommitExchange, durable: true, exclusive: false, autoDelete: false);
        await channel.QueueBindAsync(CommitExchange, CommitExchange, "");
        await channel.ExchangeDeclareAsync(IntakeExchange, ExchangeType.Fanout, durable: true);
    }

    public async Task DisposeAsync()
    {
        if (storefront is not null)
        {
            await storefront.DisposeAsync();
        }

        await virtualHost.DisposeAsync();
    }

    [Fact]
    public async Task The_storefront_user_publishes_an_order_and_consumes_its_decisions_with_MassTransit()
    {
        await using var intake = await StartedBus.StartAsync(virtualHost.AmqpUri, Wait, cfg => cfg.ReceiveEndpoint("order-intake", e =>
        {
            e.Handler<OrderSubmitted>(async context =>
            {
                var id = context.Message.OrderId;
                await context.Publish(new OrderConfirmed { OrderId = id + "-c", Token = new FencingTokenInfo { Generation = 1, Sequence = 2 }, CommittedBy = "fake-intake", CommittedAt = DateTimeOffset.UtcNow });
                await context.Publish(new OrderRejected { OrderId = id + "-r", Reason = RejectionReason.OutOfStock, Detail = "SKU-1" });
                await context.Publish(new OrderIdConflict { OrderId = id + "-x", CustomerId = "c", SubmittedAt = DateTimeOffset.UtcNow, Detail = "taken" });
            });
        }));
        var received = new System.Collections.Concurrent.ConcurrentDictionary<string, object>();
        var all = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void Got(string id, object message)
        {
            received[id] = message;
            if (received.Count == 3)
            {
                all.TrySetResult();
            }
        }

        // The sample's endpoint, as the sample configures it (samples/Storefront/Program.cs).
        await using var shop = await StartedBus.StartAsync(storefront.AmqpUri, Wait, cfg => cfg.ReceiveEndpoint("storefront-permission-test", e =>
        {
            e.PublishFaults = false;
            e.Handler<OrderConfirmed>(c => { Got(c.Message.OrderId, c.Message); return Task.CompletedTask; });
            e.Handler<OrderRejected>(c => { Got(c.Message.OrderId, c.Message); return Task.CompletedTask; });
            e.Handler<OrderIdConflict>(c => { Got(c.Message.OrderId, c.Message); return Task.CompletedTask; });
        }));
        using var publish = new CancellationTokenSource(Wait);
        try
        {
            await shop.Bus.Publish(new OrderSubmitted { OrderId = "perm-1", CustomerId = "c", Lines = [new OrderLine { Sku = "SKU-1", Quantity = 1 }], SubmittedAt = DateTimeOffset.UtcNow }, publish.Token);
            await all.Task.WaitAsync(Wait);

            Assert.IsType<OrderConfirmed>(received["perm-1-c"]);
            Assert.Equal(RejectionReason.OutOfStock, Assert.IsType<OrderRejected>(received["perm-1-r"]).Reason);
            Assert.IsType<OrderIdConflict>(received["perm-1-x"]);
        }
        catch (TimeoutException)
        {
            Assert.Fail($"the storefront got {received.Count} of 3 decision events within {Wait.TotalSeconds} s: {string.Join(", ", received.Keys)}");
        }
    }

    [Fact]
    public async Task Publishing_to_the_commit_exchange_is_refused()
    {
        await using var connection = await new ConnectionFactory { Uri = storefront.AmqpUri }.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        var closed = ClosedAsync(channel);

        await channel.BasicPublishAsync(CommitExchange, "", mandatory: false, new BasicProperties { Persistent = true }, Encoding.UTF8.GetBytes("{}"));

        var reason = await closed.WaitAsync(Wait);
        AssertRefused(reason.ReplyCode, reason.ReplyText, $"exchange '{CommitExchange}'");
    }

    [Fact]
    public async Task Reading_the_commit_queue_is_refused()
    {
        await using var connection = await new ConnectionFactory { Uri = storefront.AmqpUri }.CreateConnectionAsync();
        await using (var channel = await connection.CreateChannelAsync())
        {
            var consume = await Assert.ThrowsAnyAsync<OperationInterruptedException>(() => channel.BasicConsumeAsync(CommitExchange, autoAck: false, new AsyncEventingBasicConsumer(channel)));
            AssertRefused(consume.ShutdownReason!.ReplyCode, consume.ShutdownReason.ReplyText, $"queue '{CommitExchange}'");
        }

        await using (var channel = await connection.CreateChannelAsync())
        {
            var get = await Assert.ThrowsAnyAsync<OperationInterruptedException>(() => channel.BasicGetAsync(CommitExchange, autoAck: false));
            AssertRefused(get.ShutdownReason!.ReplyCode, get.ShutdownReason.ReplyText, $"queue '{CommitExchange}'");
        }
    }

    [Fact]
    public async Task A_queue_of_its_own_cannot_be_bound_to_the_orders_of_every_storefront()
    {
        await using var connection = await new ConnectionFactory { Uri = storefront.AmqpUri }.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        await channel.QueueDeclareAsync("storefront-snoop", durable: true, exclusive: false, autoDelete: false);

        var bind = await Assert.ThrowsAnyAsync<OperationInterruptedException>(() => channel.QueueBindAsync("storefront-snoop", IntakeExchange, ""));

        AssertRefused(bind.ShutdownReason!.ReplyCode, bind.ShutdownReason.ReplyText, $"exchange '{IntakeExchange}'");
    }

    [Fact]
    public async Task The_commit_queue_cannot_be_deleted_or_declared()
    {
        await using var connection = await new ConnectionFactory { Uri = storefront.AmqpUri }.CreateConnectionAsync();
        await using (var channel = await connection.CreateChannelAsync())
        {
            var delete = await Assert.ThrowsAnyAsync<OperationInterruptedException>(() => channel.QueueDeleteAsync(CommitExchange));
            AssertRefused(delete.ShutdownReason!.ReplyCode, delete.ShutdownReason.ReplyText, $"queue '{CommitExchange}'");
        }

        await using (var channel = await connection.CreateChannelAsync())
        {
            var declare = await Assert.ThrowsAnyAsync<OperationInterruptedException>(() => channel.ExchangeDeclareAsync(CommitExchange, ExchangeType.Fanout, durable: true));
            AssertRefused(declare.ShutdownReason!.ReplyCode, declare.ShutdownReason.ReplyText, $"exchange '{CommitExchange}'");
        }
    }

    private static void AssertRefused(ushort code, string text, string resource)
    {
        Assert.True(code == Constants.AccessRefused && text.StartsWith("ACCESS_REFUSED", StringComparison.Ordinal),
            $"expected ACCESS_REFUSED (403), got {code} {text}");
        Assert.Contains(resource, text, StringComparison.Ordinal);
    }

    /// <summary>The broker's reason when it closes <paramref name="channel"/> (a refused publish closes the channel
    /// asynchronously: basic.publish has no reply).</summary>
    private static Task<ShutdownEventArgs> ClosedAsync(IChannel channel)
    {
        var closed = new TaskCompletionSource<ShutdownEventArgs>(TaskCreationOptions.RunContinuationsAsynchronously);
        channel.ChannelShutdownAsync += (_, reason) =>
        {
            closed.TrySetResult(reason);
            return Task.CompletedTask;
        };
        return closed.Task;
    }
}
