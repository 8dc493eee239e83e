using MassTransit;
using Pipeline.Contracts;
using Pipeline.Inventory.Commit;
using Pipeline.OrderService.Leadership;
using Pipeline.OrderService.Telemetry;

namespace Pipeline.OrderService.Messaging;

/// <summary>
/// The leader's commit stage: a batch of CommitInventory becomes one fenced transaction, then one event per order, published
/// only after COMMIT. A redelivered order that is already decided gets its decision published again. When the lease ends
/// mid-batch, or the fence refuses us, nothing is acknowledged: the batch waits for the endpoint to stop and goes back to the
/// queue for the next leader.
/// </summary>
public sealed class CommitInventoryConsumer(FencedCommitter committer, CommitLease commitLease, PipelineMetrics metrics, ILogger<CommitInventoryConsumer> logger)
    : IConsumer<Batch<CommitInventory>>
{
    private static readonly TimeSpan StopWait = TimeSpan.FromSeconds(60);

    public async Task Consume(ConsumeContext<Batch<CommitInventory>> context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var lease = commitLease.Current;
        if (lease is null || lease.IsRevoked)
        {
            await ReturnToQueueAsync(context, "no valid lease").ConfigureAwait(false);
            return;
        }

        var batch = context.Message.Select(m => m.Message).ToList();
        using var work = CancellationTokenSource.CreateLinkedTokenSource(lease.CancellationToken, context.CancellationToken);
        IReadOnlyList<OrderDecision> decisions;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        try
        {
            decisions = await committer.CommitAsync(CommitLease.ToFenceToken(lease.Token), lease.NodeId, batch, work.Token).ConfigureAwait(false);
        }
        catch (StaleLeaderException ex)
        {
            metrics.FenceRejected();
            logger.LogError("Commit refused by the fence: {Reason}. Stepping down.", ex.Message);
            commitLease.ReportFencedOff(ex);
            await ReturnToQueueAsync(context, "fenced off").ConfigureAwait(false);
            return;
        }
        catch (OperationCanceledException) when (lease.CancellationToken.IsCancellationRequested)
        {
            await ReturnToQueueAsync(context, $"lease ended: {lease.RevokedBecause}").ConfigureAwait(false);
            return;
        }

        metrics.Committed(decisions, batch.Count, clock.Elapsed, lease);
        foreach (var decision in decisions)
        {
            await context.Publish(ToEvent(decision), context.CancellationToken).ConfigureAwait(false);
        }
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

    /// <summary>
    /// Leaves the batch unacknowledged. Throwing now would count as a consumer fault (retries, then the error queue); instead
    /// wait for the leadership service to stop this endpoint, whose cancellation makes the transport return the messages
    /// to the queue. The wait is bounded so a stuck stop cannot hold the batch forever.
    /// </summary>
    private async Task ReturnToQueueAsync(ConsumeContext context, string why)
    {
        logger.LogWarning("Returning a batch to the queue: {Why}", why);
        try
        {
            await Task.Delay(StopWait, context.CancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        throw new OperationCanceledException($"Batch returned to the queue: {why}", context.CancellationToken);
    }
}
