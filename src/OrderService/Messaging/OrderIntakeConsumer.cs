using MassTransit;
using Microsoft.Extensions.Options;
using Pipeline.Contracts;
using Pipeline.Inventory.Commit;
using Pipeline.Inventory.Intake;
using Pipeline.Inventory.Model;
using Pipeline.OrderService.Configuration;
using Pipeline.OrderService.Telemetry;

namespace Pipeline.OrderService.Messaging;

/// <summary>
/// Intake, on every replica: validate, record the order (idempotent on its id), forward it for commit. Invalid content is
/// recorded (in bounded form) as Rejected and announced with OrderRejected{Invalid}; an id reused for other content is
/// announced with OrderIdConflict, which no consumer can take for the stored order's decision, and the stored order is not
/// touched. A redelivery of a recorded, undecided order is forwarded again (the commit is idempotent), so a crash between
/// recording and forwarding loses nothing. The forward is mandatory: a broker that cannot route it fails the delivery,
/// which goes back to the queue, instead of dropping the command.
/// </summary>
public sealed class OrderSubmittedConsumer(OrderIntakeStore store, IOptions<PipelineOptions> options, PipelineMetrics metrics, ILogger<OrderSubmittedConsumer> logger)
    : IConsumer<OrderSubmitted>
{
    public async Task Consume(ConsumeContext<OrderSubmitted> context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var order = context.Message;
        var nodeId = options.Value.NodeId;
        var (lines, problem) = OrderValidation.Validate(order.OrderId, order.CustomerId, order.Lines);
        if (!OrderValidation.IsUsableId(order.OrderId))
        {
            // No usable key to record it under: reject it loudly; it must not vanish silently.
            throw new UnusableOrderIdException($"OrderSubmitted without a usable order id ({OrderValidation.Printable(order.OrderId, 60)}): {problem}");
        }

        if (problem is not null)
        {
            var rejected = await store.RecordRejectedAsync(order, RejectionReason.Invalid, problem, nodeId, context.CancellationToken).ConfigureAwait(false);
            if (rejected.Outcome == ReceiveOutcome.Conflict)
            {
                await RejectConflictAsync(context, order).ConfigureAwait(false);
                return;
            }

            metrics.IntakeRejected(RejectionReason.Invalid);
            await context.Publish(new OrderRejected { OrderId = order.OrderId, Reason = RejectionReason.Invalid, Detail = problem }).ConfigureAwait(false);
            return;
        }

        var received = await store.RecordReceivedAsync(order, lines!, nodeId, context.CancellationToken).ConfigureAwait(false);
        switch (received.Outcome)
        {
            case ReceiveOutcome.Conflict:
                await RejectConflictAsync(context, order).ConfigureAwait(false);
                return;
            case ReceiveOutcome.Duplicate when received.Status != OrderStatus.Received:
                return; // decided already; its decision was published by the commit
            default:
                metrics.IntakeAccepted();
                var endpoint = await context.GetSendEndpoint(Topology.CommitAddress).ConfigureAwait(false);
                try
                {
                    await endpoint.Send(new CommitInventory { OrderId = order.OrderId, Lines = lines! }, MessagingSetup.Mandatory, context.CancellationToken).ConfigureAwait(false);
                }
                catch (MessageReturnedException)
                {
                    logger.LogError("The forward of order {OrderId} was returned by the broker: no queue is bound to exchange {Exchange}; the delivery goes back to {Queue}",
                        order.OrderId, Topology.CommitQueue, Topology.IntakeQueue);
                    throw;
                }

                return;
        }
    }

    private async Task RejectConflictAsync(ConsumeContext<OrderSubmitted> context, OrderSubmitted order)
    {
        logger.LogWarning("Order {OrderId} was submitted again with different content; the submission is refused, the recorded order stays", order.OrderId);
        metrics.IntakeConflict();
        await context.Publish(new OrderIdConflict
        {
            OrderId = order.OrderId,
            CustomerId = OrderValidation.Printable(order.CustomerId, OrderValidation.MaxCustomerIdLength),
            SubmittedAt = order.SubmittedAt,
            Detail = "the order id is already recorded for an order with other content; this submission was not recorded",
        }).ConfigureAwait(false);
    }
}
