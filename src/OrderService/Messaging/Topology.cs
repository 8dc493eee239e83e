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

    /// <summary>Declares the commit queue and its exchange; <paramref name="arguments"/> (beyond the queue type) must match
    /// what the receive endpoint declares, or the broker refuses the second declaration.</summary>
    public static async Task DeclareCommitQueueAsync(RabbitMqOptions rabbit, bool quorum, CancellationToken cancellationToken, IReadOnlyDictionary<string, object?>? arguments = null)
    {
        ArgumentNullException.ThrowIfNull(rabbit);
        var factory = RabbitMqConnection.Factory(rabbit, "pipeline-topology");
        await using var connection = await factory.CreateConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var channel = await connection.CreateChannelAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        await channel.ExchangeDeclareAsync(CommitQueue, ExchangeType.Fanout, durable: true, autoDelete: false, cancellationToken: cancellationToken).ConfigureAwait(false);
        var declared = new Dictionary<string, object?>(arguments ?? new Dictionary<string, object?>());
        if (quorum)
        {
            declared["x-queue-type"] = "quorum";
        }

        await channel.QueueDeclareAsync(CommitQueue, durable: true, exclusive: false, autoDelete: false, declared.Count == 0 ? null : declared, cancellationToken: cancellationToken).ConfigureAwait(false);
        await channel.QueueBindAsync(CommitQueue, CommitQueue, "", cancellationToken: cancellationToken).ConfigureAwait(false);
    }
}
