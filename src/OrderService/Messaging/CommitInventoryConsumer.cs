using MassTransit;
using Pipeline.Contracts;
using Pipeline.Inventory.Commit;
using Pipeline.OrderService.Leadership;

namespace Pipeline.OrderService.Messaging;

/// <summary>
/// The leader's commit stage, one delivery at a time from the consumer's view: the <see cref="CommitBatcher"/> puts
/// concurrent deliveries into one fenced transaction; the event is published only after COMMIT, and the message is acked
/// after that. A redelivered order that is already decided gets its decision published again. When leadership ends
/// mid-batch or the fence refuses us, nothing is acknowledged: the message goes back to the queue for the next leader.
/// </summary>
public sealed class CommitInventoryConsumer(CommitBatcher batcher, ConsumerActivation activation, CommitPathWarmUp warmUp, CommitEndpointChannels channels)
    : IConsumer<CommitInventory>
{
    public async Task Consume(ConsumeContext<CommitInventory> context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (warmUp.IsWarmUp(context))
        {
            return; // the standby's warm-up message, on its own temporary queue: nothing to commit
        }

        channels.Observe(context);
        if (activation.Enabled)
        {
            // SingleActiveConsumer mode: a delivery on a channel or consumer tag not seen before means the broker made this
            // replica's (new) consumer the active one.
            var tag = context.TryGetPayload<RabbitMqBasicConsumeContext>(out var basic) ? basic.ConsumerTag : "unknown";
            var channel = context.TryGetPayload<MassTransit.RabbitMqTransport.ChannelContext>(out var channelContext) ? channelContext.Channel : null;
            await activation.EnterAsync(tag, channel, context.CancellationToken);
        }

        var decision = await batcher.CommitAsync(context.Message, context.CancellationToken);
        await context.Publish(ToEvent(decision), context.CancellationToken);
    }

    internal static object ToEvent(OrderDecision decision) => decision.Confirmed
        ? new OrderConfirmed
        {
            OrderId = decision.OrderId,
            Token = new FencingTokenInfo { Generation = decision.Token.Generation, Epoch = decision.Token.Epoch },
            CommittedBy = decision.NodeId,
            CommittedAt = decision.CommittedAt,
        }
        : new OrderRejected { OrderId = decision.OrderId, Reason = decision.Reason ?? RejectionReason.Invalid, Detail = decision.Detail };
}

/// <summary>The delivery was not committed because this replica does not (or no longer) lead. Never a fault of the message:
/// the commit endpoint's error pipe requeues it instead of moving it to the error queue.</summary>
public sealed class LeadershipLostException : Exception
{
    public LeadershipLostException()
    {
    }

    public LeadershipLostException(string message)
        : base(message)
    {
    }

    public LeadershipLostException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
