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
/// recorded as Rejected and announced with OrderRejected{Invalid}; an id reused for other content is rejected as a
/// Conflict without touching the stored order. A redelivery of a recorded, undecided order is forwarded again (the commit
/// is idempotent), so a crash between recording and forwarding loses nothing.
/// </summary>
public sealed class OrderSubmittedConsumer(OrderIntakeStore store, IOptions<PipelineOptions> options, PipelineMetrics metrics, ILogger<OrderSubmittedConsumer> logger)
    : IConsumer<OrderSubmitted>
{
    public async Task Consume(ConsumeContext<OrderSubmitted> context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var order = context.Message;
        var nodeId = options.Value.NodeId;
        var (lines, problem) = OrderValidation.Validate(order.OrderId, order.Lines);
        if (string.IsNullOrWhiteSpace(order.OrderId) || order.OrderId.Length > OrderValidation.MaxIdLength)
        {
            // No usable key to record it under: reject it loudly; it must not vanish silently.
            throw new UnusableOrderIdException($"OrderSubmitted without a usable order id: {problem}");
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
                await endpoint.Send(new CommitInventory { OrderId = order.OrderId, Lines = lines! }, context.CancellationToken).ConfigureAwait(false);
                return;
        }
    }

    private async Task RejectConflictAsync(ConsumeContext<OrderSubmitted> context, OrderSubmitted order)
    {
        logger.LogWarning("Order {OrderId} was submitted again with different content; rejected as a conflict", order.OrderId);
        metrics.IntakeRejected(RejectionReason.Conflict);
        await context.Publish(new OrderRejected
        {
            OrderId = order.OrderId,
            Reason = RejectionReason.Conflict,
            Detail = "the order id was already used for an order with different content",
        }).ConfigureAwait(false);
    }
}

/// <summary>An order message with no usable id: nothing can be recorded under it, so it goes to the error queue (no retries:
/// a retry cannot give it an id).</summary>
public sealed class UnusableOrderIdException : Exception
{
    public UnusableOrderIdException()
    {
    }

    public UnusableOrderIdException(string message)
        : base(message)
    {
    }

    public UnusableOrderIdException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
