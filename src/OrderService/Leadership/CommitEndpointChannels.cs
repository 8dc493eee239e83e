using System.Collections.Concurrent;
using MassTransit;
using RabbitMQ.Client;

namespace Pipeline.OrderService.Leadership;

/// <summary>
/// The RabbitMQ channels the commit endpoint's deliveries arrive on, so an endpoint that does not stop in time can be torn
/// down: closing its channels makes the broker return every unacknowledged delivery to the queue at once, for the next
/// leader, instead of leaving them with a deposed one until its process ends.
/// </summary>
public sealed class CommitEndpointChannels(ILogger<CommitEndpointChannels> logger)
{
    private readonly ConcurrentDictionary<IChannel, byte> channels = new();

    /// <summary>Notes the channel of a commit delivery.</summary>
    public void Observe(ConsumeContext context)
    {
        if (context.TryGetPayload<MassTransit.RabbitMqTransport.ChannelContext>(out var channel) && !channels.ContainsKey(channel.Channel))
        {
            channels.TryAdd(channel.Channel, 0);
        }
    }

    /// <summary>Closes (aborts) every channel noted since the last call.</summary>
    public async Task CloseAllAsync(string reason)
    {
        foreach (var channel in channels.Keys)
        {
            channels.TryRemove(channel, out _);
            if (channel.IsClosed)
            {
                continue;
            }

            try
            {
                await channel.CloseAsync(Constants.ReplySuccess, reason, abort: true).ConfigureAwait(false);
                logger.LogWarning("Closed commit channel {Channel}: {Reason}", channel.ChannelNumber, reason);
            }
            catch (Exception ex) when (ex is RabbitMQ.Client.Exceptions.RabbitMQClientException or IOException or ObjectDisposedException)
            {
                logger.LogWarning("Could not close commit channel {Channel} ({Error}); the broker requeues its deliveries when its connection ends", channel.ChannelNumber, ex.Message);
            }
        }
    }
}
