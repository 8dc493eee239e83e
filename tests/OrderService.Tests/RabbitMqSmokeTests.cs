using System.Text;
using Pipeline.Testing;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace Pipeline.OrderService.Tests;

/// <summary>The RabbitMQ the tests use is real: a confirmed persistent publish comes back from a queue, in this class's own virtual host only.</summary>
public sealed class RabbitMqSmokeTests(RabbitMqVirtualHost vhost) : IClassFixture<RabbitMqVirtualHost>
{
    [Fact]
    public async Task A_confirmed_publish_is_returned_from_the_queue()
    {
        await using var connection = await new ConnectionFactory { Uri = vhost.AmqpUri }.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true));
        await channel.QueueDeclareAsync("smoke", durable: true, exclusive: false, autoDelete: false);

        var body = Encoding.UTF8.GetBytes("hello " + vhost.Name);
        await channel.BasicPublishAsync("", "smoke", mandatory: true, new BasicProperties { Persistent = true, MessageId = "m-1" }, body);

        var got = await Eventually.GetAsync(() => channel.BasicGetAsync("smoke", autoAck: true), TimeSpan.FromSeconds(10), "the message on queue smoke");
        Assert.Equal(body, got.Body.ToArray());
        Assert.Equal("m-1", got.BasicProperties.MessageId);
    }

    [Fact]
    public async Task Another_virtual_host_does_not_see_this_class_queues()
    {
        var other = new RabbitMqVirtualHost();
        await other.InitializeAsync();
        try
        {
            await using (var mine = await new ConnectionFactory { Uri = vhost.AmqpUri }.CreateConnectionAsync())
            await using (var channel = await mine.CreateChannelAsync())
            {
                await channel.QueueDeclareAsync("only-here", durable: true, exclusive: false, autoDelete: false);
            }

            await using var theirs = await new ConnectionFactory { Uri = other.AmqpUri }.CreateConnectionAsync();
            await using var theirChannel = await theirs.CreateChannelAsync();
            var ex = await Assert.ThrowsAsync<OperationInterruptedException>(() => theirChannel.QueueDeclarePassiveAsync("only-here"));
            Assert.Equal((ushort)404, ex.ShutdownReason!.ReplyCode);
        }
        finally
        {
            await other.DisposeAsync();
        }
    }
}
