using MassTransit;
using Pipeline.Contracts;
using RabbitMQ.Client;

namespace Pipeline.Bench.Ceilings;

/// <summary>
/// Fills a queue with commit commands exactly as the intake sends them (MassTransit Send to the queue's exchange,
/// publisher-confirmed), with nobody consuming: the depth both drain measurements start from.
/// </summary>
public static class CommitQueueFill
{
    /// <summary>Declares <paramref name="queue"/> as OrderService's Topology declares inventory-commit (a durable fanout
    /// exchange of the same name bound to a durable classic queue), so sends before any consumer exists wait in it.</summary>
    public static async Task DeclareAsync(Uri amqp, string queue, CancellationToken cancellationToken)
    {
        var factory = new ConnectionFactory { Uri = amqp, ClientProvidedName = "pipeline-bench-topology" };
        await using var connection = await factory.CreateConnectionAsync(cancellationToken);
        await using var channel = await connection.CreateChannelAsync(cancellationToken: cancellationToken);
        await channel.ExchangeDeclareAsync(queue, ExchangeType.Fanout, durable: true, autoDelete: false, cancellationToken: cancellationToken);
        await channel.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false, cancellationToken: cancellationToken);
        await channel.QueueBindAsync(queue, queue, "", cancellationToken: cancellationToken);
    }

    /// <summary>How many messages wait in <paramref name="queue"/>.</summary>
    public static async Task<uint> DepthAsync(Uri amqp, string queue, CancellationToken cancellationToken)
    {
        var factory = new ConnectionFactory { Uri = amqp, ClientProvidedName = "pipeline-bench-topology" };
        await using var connection = await factory.CreateConnectionAsync(cancellationToken);
        await using var channel = await connection.CreateChannelAsync(cancellationToken: cancellationToken);
        return await channel.MessageCountAsync(queue, cancellationToken);
    }

    public static async Task FillAsync<T>(BenchBroker broker, string queue, IEnumerable<T> messages, CancellationToken cancellationToken)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(broker);
        ArgumentNullException.ThrowIfNull(messages);
        await DeclareAsync(broker.AmqpUri, queue, cancellationToken);
        var bus = await broker.StartBusAsync(null, cancellationToken);
        try
        {
            var endpoint = await bus.GetSendEndpoint(new Uri($"exchange:{queue}"));
            using var inFlight = new SemaphoreSlim(500);
            var sends = new List<Task>();
            foreach (var message in messages)
            {
                await inFlight.WaitAsync(cancellationToken);
                sends.Add(SendAsync(endpoint, message, inFlight, cancellationToken));
            }

            await Task.WhenAll(sends);
        }
        finally
        {
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await bus.StopAsync(stop.Token);
        }
    }

    private static async Task SendAsync<T>(ISendEndpoint endpoint, T message, SemaphoreSlim inFlight, CancellationToken cancellationToken)
        where T : class
    {
        try
        {
            await endpoint.Send(message, cancellationToken);
        }
        finally
        {
            inFlight.Release();
        }
    }
}
