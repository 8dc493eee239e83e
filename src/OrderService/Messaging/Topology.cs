using Pipeline.OrderService.Configuration;
using RabbitMQ.Client;

namespace Pipeline.OrderService.Messaging;

/// <summary>Queue names, and the one declaration every replica makes at start: the inventory-commit queue must exist, bound,
/// before any leader does, or commands sent while nobody leads would have nowhere to wait.</summary>
public static class Topology
{
    public const string IntakeQueue = "order-intake";
    public const string CommitQueue = "inventory-commit";

    /// <summary>Where intake sends CommitInventory: the endpoint's own exchange (MassTransit binds it to the queue).</summary>
    public static readonly Uri CommitAddress = new($"exchange:{CommitQueue}");

    public static async Task DeclareCommitQueueAsync(RabbitMqOptions rabbit, bool quorum, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(rabbit);
        var factory = new ConnectionFactory
        {
            HostName = rabbit.Host,
            Port = rabbit.Port,
            VirtualHost = rabbit.VirtualHost,
            UserName = rabbit.Username,
            Password = rabbit.Password,
            ClientProvidedName = "pipeline-topology",
        };
        await using var connection = await factory.CreateConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var channel = await connection.CreateChannelAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        await channel.ExchangeDeclareAsync(CommitQueue, ExchangeType.Fanout, durable: true, autoDelete: false, cancellationToken: cancellationToken).ConfigureAwait(false);
        var arguments = quorum ? new Dictionary<string, object?> { ["x-queue-type"] = "quorum" } : null;
        await channel.QueueDeclareAsync(CommitQueue, durable: true, exclusive: false, autoDelete: false, arguments, cancellationToken: cancellationToken).ConfigureAwait(false);
        await channel.QueueBindAsync(CommitQueue, CommitQueue, "", cancellationToken: cancellationToken).ConfigureAwait(false);
    }
}
