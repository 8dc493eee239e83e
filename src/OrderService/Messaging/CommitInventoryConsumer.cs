using MassTransit;
using Pipeline.Contracts;
using Pipeline.Inventory.Commit;
using Pipeline.OrderService.Leadership;
using Pipeline.OrderService.Telemetry;

namespace Pipeline.OrderService.Messaging;

/// <summary>
/// The leader's commit stage: a batch of CommitInventory becomes one fenced transaction, then one event per order, published
/// only after COMMIT. A redelivered order that is already decided gets its decision published again. When the lease ends
/// mid-batch, or the fence refuses us, nothing is acknowledged: the batch goes back to the queue for the next leader.
/// </summary>
public sealed class CommitInventoryConsumer(FencedCommitter committer, CommitLease commitLease, PipelineMetrics metrics, ILogger<CommitInventoryConsumer> logger)
    : IConsumer<Batch<CommitInventory>>
{
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

    private Task ReturnToQueueAsync(ConsumeContext context, string why)
    {
        logger.LogWarning("Returning a batch to the queue: {Why}", why);
        return Task.FromException(new LeadershipLostException($"Batch not committed, returned to the queue: {why}"));
    }
}

/// <summary>The batch was not committed because this replica does not (or no longer) lead. Never a fault of the messages:
/// the commit endpoint's error pipe requeues them instead of moving them to the error queue.</summary>
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
