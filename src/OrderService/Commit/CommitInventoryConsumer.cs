using System.Diagnostics;
using MassTransit;
using Pipeline.Contracts;
using Pipeline.Inventory.Commit;
using Pipeline.OrderService.Telemetry;

namespace Pipeline.OrderService.Commit;

/// <summary>
/// The leader's commit stage, one delivery at a time from the consumer's view: the <see cref="CommitBatcher"/> puts
/// concurrent deliveries into one fenced transaction; the event is published only after COMMIT, and the message is acked
/// after that. A redelivered order that is already decided gets its decision published again. When leadership ends
/// mid-batch or the fence refuses us, nothing is acknowledged: the message goes back to the queue for the next leader.
/// </summary>
public sealed class CommitInventoryConsumer(CommitBatcher batcher, ICommitAuthority authority, CommitEndpoint endpoint, CommitPathWarmUp warmUp)
    : IConsumer<CommitInventory>
{
    public async Task Consume(ConsumeContext<CommitInventory> context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (warmUp.IsWarmUp(context))
        {
            return; // the standby's warm-up message, on its own temporary queue: nothing to commit
        }

        endpoint.Received(context);
        try
        {
            await authority.AdmitAsync(context);
            var decision = await batcher.CommitTracedAsync(context.Message, context.CancellationToken);
            await PublishDecisionAsync(context, decision, PipelineTracing.OrderContexts(context, 1)[0]);
        }
        finally
        {
            endpoint.Settled();
        }
    }

    /// <summary>Publishes the decision inside its span, a child of the order's submission <paramref name="submitted"/> (when
    /// known): the event carries that trace on to whoever consumes it.</summary>
    internal static async Task PublishDecisionAsync(ConsumeContext context, BatchedDecision committed, ActivityContext submitted)
    {
        using var span = PipelineTracing.StartDecision(submitted, committed.CommitBatch, committed.Decision);
        await context.Publish(ToEvent(committed.Decision), context.CancellationToken);
    }

    internal static object ToEvent(OrderDecision decision) => decision.Confirmed
        ? new OrderConfirmed
        {
            OrderId = decision.OrderId,
            Token = new FencingTokenInfo { Generation = decision.Token.Generation, Sequence = decision.Token.Sequence },
            CommittedBy = decision.NodeId,
            CommittedAt = decision.CommittedAt,
        }
        : new OrderRejected { OrderId = decision.OrderId, Reason = decision.Reason ?? RejectionReason.Invalid, Detail = decision.Detail };
}
