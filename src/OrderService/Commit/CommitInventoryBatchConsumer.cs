using System.Diagnostics;
using MassTransit;
using Pipeline.Contracts;
using Pipeline.Inventory.Commit;
using Pipeline.OrderService.Messaging;
using Pipeline.OrderService.Telemetry;

namespace Pipeline.OrderService.Commit;

/// <summary>
/// The leader's commit stage for an intake batch: its orders join the <see cref="CommitBatcher"/> (with the orders of other
/// batches in flight, up to CommitBatchSize per fenced transaction); once every order is decided, one event per order is
/// published, all at once (their confirms pipelined), and only then is the command acknowledged. A fault that is not an
/// order's own (leadership lost, the fence refused us, the database away) fails the whole command, which goes back to the
/// queue: its orders decided meanwhile are found decided when it returns, and their decisions are published again, identical.
/// An order whose commit fails for what it holds (the batcher splits its transaction down to it) is sent on alone as a
/// <see cref="CommitInventory"/>, retried and parked by itself, so it never holds up or parks the rest of its batch. Each
/// decision is published inside a span continuing its order's trace (the submission contexts the forward carried).
/// </summary>
public sealed class CommitInventoryBatchConsumer(CommitBatcher batcher, ICommitAuthority authority, CommitEndpoint endpoint, CommitPathWarmUp warmUp,
    ILogger<CommitInventoryBatchConsumer> logger) : IConsumer<CommitInventoryBatch>
{
    public async Task Consume(ConsumeContext<CommitInventoryBatch> context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (warmUp.IsWarmUp(context))
        {
            return; // the standby's warm-up message, on its own temporary queue: nothing to commit
        }

        var command = context.Message;
        if (command.Version != CommitInventoryBatch.CurrentVersion || command.Orders is not { Count: > 0 })
        {
            // Parked with this reason: a command this release cannot read is not guessed at.
            throw new InvalidDataException($"CommitInventoryBatch version {command.Version} with {command.Orders?.Count ?? 0} orders: this release reads version {CommitInventoryBatch.CurrentVersion} with at least one order");
        }

        endpoint.Received(context);
        try
        {
            await authority.AdmitAsync(context);
            var orderContexts = PipelineTracing.OrderContexts(context, command.Orders.Count);
            var commits = command.Orders.Select(order => batcher.CommitTracedAsync(order, context.CancellationToken)).ToArray();
            await ((Task)Task.WhenAll(commits)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing); // each order's outcome is looked at below

            if (commits.Select(c => c.Exception?.InnerException ?? (c.IsCanceled ? new OperationCanceledException(context.CancellationToken) : null))
                .FirstOrDefault(RequeueWhenNotTheMessagesFaultFilter.IsNotTheMessagesFault) is { } notTheOrders)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(notTheOrders);
            }

            var sends = new List<Task>(commits.Length);
            for (var i = 0; i < commits.Length; i++)
            {
                sends.Add(commits[i].IsCompletedSuccessfully
                    ? CommitInventoryConsumer.PublishDecisionAsync(context, commits[i].Result, orderContexts[i])
                    : SplitOffAsync(context, command.Orders[i], orderContexts[i], commits[i].Exception!.InnerException!));
            }

            await Task.WhenAll(sends);
        }
        finally
        {
            endpoint.Settled();
        }
    }

    /// <summary>An order whose commit failed for what it holds goes on alone, to be retried and parked by itself.</summary>
    private async Task SplitOffAsync(ConsumeContext context, CommitInventory order, ActivityContext submitted, Exception failure)
    {
        logger.LogWarning("Order {OrderId} could not be committed with its batch ({Reason}); sending it on alone", OrderValidation.Printable(order.OrderId, 60), failure.Message);
        var alone = await context.GetSendEndpoint(Topology.CommitAddress);
        await alone.Send(order, send =>
        {
            MessagingSetup.SetMandatory(send);
            PipelineTracing.SetOrderContexts(send, PipelineTracing.EncodeOrderContexts([submitted]));
        }, context.CancellationToken);
    }
}
