using System.Diagnostics;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace Pipeline.Bench.Ceilings;

/// <summary>
/// The broker's own ceiling with the plain client (RabbitMQ.Client 7, what MassTransit runs on): persistent messages
/// published to a durable queue on a confirm channel with up to <c>window</c> unconfirmed, and a consumer on its own
/// channel (prefetch <c>prefetch</c>) acking each message. Messages/s from the first publish to the last consume.
/// </summary>
public static class RawRabbitCeiling
{
    public static async Task<Throughput> MeasureAsync(Uri amqp, int count, int window, ushort prefetch, int bodyBytes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(amqp);
        var queue = "bench-raw-" + Guid.NewGuid().ToString("N")[..8];
        var factory = new ConnectionFactory { Uri = amqp, ClientProvidedName = "pipeline-bench-raw" };
        // Publisher and consumer on separate connections, as a storefront and a service would be.
        await using var publishConnection = await factory.CreateConnectionAsync(cancellationToken);
        await using var consumeConnection = await factory.CreateConnectionAsync(cancellationToken);
        // Confirm tracking on (BasicPublishAsync completes at the broker's ack); the library's own limiter off, our window instead.
        await using var publisher = await publishConnection.CreateChannelAsync(
            new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true, outstandingPublisherConfirmationsRateLimiter: null),
            cancellationToken);
        await using var consumer = await consumeConnection.CreateChannelAsync(cancellationToken: cancellationToken);
        await publisher.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false, cancellationToken: cancellationToken);
        try
        {
            var consumed = 0;
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            await consumer.BasicQosAsync(0, prefetch, global: false, cancellationToken);
            var handler = new AsyncEventingBasicConsumer(consumer);
            handler.ReceivedAsync += async (_, delivery) =>
            {
                await consumer.BasicAckAsync(delivery.DeliveryTag, multiple: false, CancellationToken.None);
                if (Interlocked.Increment(ref consumed) == count)
                {
                    done.TrySetResult();
                }
            };
            await consumer.BasicConsumeAsync(queue, autoAck: false, handler, cancellationToken);

            var body = new byte[bodyBytes];
            Random.Shared.NextBytes(body);
            var properties = new BasicProperties { Persistent = true, ContentType = "application/octet-stream" };
            using var inFlight = new SemaphoreSlim(window);
            var clock = Stopwatch.StartNew();
            var publishes = new List<Task>(count);
            for (var i = 0; i < count; i++)
            {
                await inFlight.WaitAsync(cancellationToken);
                publishes.Add(PublishAsync(publisher, queue, properties, body, inFlight, cancellationToken));
            }

            await Task.WhenAll(publishes);
            await done.Task.WaitAsync(TimeSpan.FromSeconds(120), cancellationToken);
            return new Throughput("raw RabbitMQ.Client publish-confirm -> consume-ack", count, clock.Elapsed.TotalSeconds);
        }
        finally
        {
            await publisher.QueueDeleteAsync(queue, cancellationToken: CancellationToken.None);
        }
    }

    private static async Task PublishAsync(IChannel channel, string queue, BasicProperties properties, byte[] body, SemaphoreSlim inFlight, CancellationToken cancellationToken)
    {
        try
        {
            await channel.BasicPublishAsync("", queue, mandatory: false, properties, body, cancellationToken);
        }
        finally
        {
            inFlight.Release();
        }
    }
}
