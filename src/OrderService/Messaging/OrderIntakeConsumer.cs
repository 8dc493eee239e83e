using System.Diagnostics;
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
/// Intake, on every replica, a batch of OrderSubmitted at a time (<see cref="PipelineOptions.IntakeBatchSize"/>,
/// <see cref="PipelineOptions.IntakeBatchTimeLimit"/>): validate each order, record the whole batch in one round trip
/// (idempotent on order id), forward the batch's orders to the leader as one <see cref="CommitInventoryBatch"/>, then announce
/// what intake decided. Invalid content is recorded (in bounded form) as Rejected and announced with OrderRejected{Invalid};
/// an id reused for other content is announced with OrderIdConflict and the stored order is not touched; an order already
/// decided is not forwarded again. A recorded, undecided order is forwarded on every delivery (the commit is idempotent),
/// so a crash between recording and forwarding loses nothing. The forward is mandatory and confirmed: a broker that cannot
/// route it fails the batch, which is retried whole and then requeued, never dropped;
/// the batch is acknowledged only once its record and its forward are confirmed. A message without a usable id cannot be
/// recorded: it is parked alone in order-intake_error with the reason, the rest of its batch goes on. The batch is one span
/// linked to each order's submission; the forward carries each order's submission context on to the leader
/// (<see cref="PipelineTracing"/>).
/// </summary>
public sealed class OrderIntakeConsumer(OrderIntakeStore store, IOptions<PipelineOptions> options, PipelineMetrics metrics, ILogger<OrderIntakeConsumer> logger)
    : IConsumer<Batch<OrderSubmitted>>
{
    private static readonly Uri ErrorQueue = new($"queue:{Topology.IntakeQueue}_error");

    public async Task Consume(ConsumeContext<Batch<OrderSubmitted>> context)
    {
        ArgumentNullException.ThrowIfNull(context);
        using var span = PipelineTracing.StartIntakeBatch(context.Message);
        try
        {
            await ConsumeBatchAsync(context, span);
        }
        catch (Exception ex)
        {
            PipelineTracing.Failed(span, ex);
            throw;
        }
    }

    private async Task ConsumeBatchAsync(ConsumeContext<Batch<OrderSubmitted>> context, Activity? span)
    {
        var batch = context.Message;
        var records = new List<IntakeRecord>(batch.Length);
        var submissions = new List<ActivityContext>(batch.Length); // each record's submission context, for the leader's decision
        var unusable = new List<ConsumeContext<OrderSubmitted>>();
        foreach (var item in batch)
        {
            var order = item.Message;
            if (!OrderValidation.IsUsableId(order.OrderId))
            {
                unusable.Add(item);
                continue;
            }

            var (lines, problem) = OrderValidation.Validate(order.OrderId, order.CustomerId, order.Lines);
            submissions.Add(PipelineTracing.SubmissionContext(item) ?? span?.Context ?? default);
            records.Add(problem is null ? IntakeRecord.Received(order, lines!) : IntakeRecord.Rejected(order, RejectionReason.Invalid, problem));
        }

        IReadOnlyList<ReceiveResult> results = records.Count == 0 ? [] : await store.RecordAsync(records, options.Value.NodeId, context.CancellationToken).ConfigureAwait(false);
        var forward = new List<CommitInventory>(records.Count);
        var forwardContexts = new List<ActivityContext>(records.Count);
        var announcements = new List<object>();
        var rejections = new List<(OrderRejected Event, ActivityContext Submitted)>();
        var forwarded = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < records.Count; i++)
        {
            var (record, result) = (records[i], results[i]);
            if (result.Outcome == ReceiveOutcome.Conflict)
            {
                logger.LogWarning("Order {OrderId} was submitted again with different content; the submission is refused, the recorded order stays", record.Sent.OrderId);
                metrics.IntakeConflict();
                announcements.Add(Conflict(record.Sent));
            }
            else if (record.Status == OrderStatus.Rejected)
            {
                metrics.IntakeRejected(RejectionReason.Invalid);
                rejections.Add((new OrderRejected { OrderId = record.Sent.OrderId, Reason = RejectionReason.Invalid, Detail = record.Detail }, submissions[i]));
            }
            else if (result.Status == OrderStatus.Received && forwarded.Add(record.Sent.OrderId))
            {
                // New, or recorded earlier and still undecided; an order decided already had its decision published by the commit.
                metrics.IntakeAccepted();
                forward.Add(new CommitInventory { OrderId = record.Sent.OrderId, Lines = record.Lines });
                forwardContexts.Add(submissions[i]);
            }
        }

        span?.SetTag("pipeline.intake.forwarded", forward.Count);
        if (forward.Count > 0)
        {
            await ForwardAsync(context, forward, PipelineTracing.EncodeOrderContexts(forwardContexts)).ConfigureAwait(false);
        }

        await Task.WhenAll(announcements.Select(a => context.Publish(a, context.CancellationToken))
            .Concat(rejections.Select(r => PublishRejectionAsync(context, r.Event, r.Submitted)))
            .Concat(unusable.Select(u => ParkAsync(context, u)))).ConfigureAwait(false);
    }

    private async Task ForwardAsync(ConsumeContext context, List<CommitInventory> orders, string? orderContexts)
    {
        var endpoint = await context.GetSendEndpoint(Topology.CommitAddress).ConfigureAwait(false);
        try
        {
            await endpoint.Send(new CommitInventoryBatch { Orders = orders }, send =>
            {
                MessagingSetup.SetMandatory(send);
                PipelineTracing.SetOrderContexts(send, orderContexts);
            }, context.CancellationToken).ConfigureAwait(false);
        }
        catch (MessageReturnedException)
        {
            logger.LogError("The forward of {Orders} orders ({OrderIds}) was returned by the broker: no queue is bound to exchange {Exchange}; the batch goes back to {Queue}",
                orders.Count, string.Join(", ", orders.Take(10).Select(o => o.OrderId)), Topology.CommitQueue, Topology.IntakeQueue);
            throw;
        }
    }

    /// <summary>Publishes intake's own decision inside its span, a child of the order's submission: the event continues the
    /// order's trace as the leader's decisions do.</summary>
    private static async Task PublishRejectionAsync(ConsumeContext context, OrderRejected rejected, ActivityContext submitted)
    {
        using var span = PipelineTracing.StartIntakeDecision(submitted, rejected.OrderId, rejected.Reason);
        await context.Publish(rejected, context.CancellationToken).ConfigureAwait(false);
    }

    /// <summary>Parks a message without a usable id in order-intake_error, under its own message id, with the fault headers
    /// MassTransit's error queue carries: nothing can be recorded under it, and a retry cannot give it an id.</summary>
    private async Task ParkAsync(ConsumeContext context, ConsumeContext<OrderSubmitted> poison)
    {
        var reason = $"OrderSubmitted without a usable order id ({OrderValidation.Printable(poison.Message.OrderId, 60)})";
        logger.LogError("{Reason}: parked in {Queue}", reason, ErrorQueue.AbsolutePath);
        var endpoint = await context.GetSendEndpoint(ErrorQueue).ConfigureAwait(false);
        await endpoint.Send(poison.Message, send =>
        {
            send.MessageId = poison.MessageId;
            send.Headers.Set("MT-Reason", "fault");
            send.Headers.Set("MT-Fault-ExceptionType", typeof(UnusableOrderIdException).FullName);
            send.Headers.Set("MT-Fault-Message", reason);
            send.Headers.Set("MT-Fault-InputAddress", poison.ReceiveContext.InputAddress?.ToString() ?? Topology.IntakeQueue);
            send.Headers.Set("MT-Fault-Timestamp", DateTime.UtcNow.ToString("O", System.Globalization.CultureInfo.InvariantCulture));
        }, context.CancellationToken).ConfigureAwait(false);
    }

    private static OrderIdConflict Conflict(OrderSubmitted order) => new()
    {
        OrderId = order.OrderId,
        CustomerId = OrderValidation.Printable(order.CustomerId, OrderValidation.MaxCustomerIdLength),
        SubmittedAt = order.SubmittedAt,
        Detail = "the order id is already recorded for an order with other content; this submission was not recorded",
    };
}
