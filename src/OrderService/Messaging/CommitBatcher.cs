using System.Threading.Channels;
using Microsoft.Extensions.Options;
using Pipeline.Contracts;
using Pipeline.Inventory.Commit;
using Pipeline.OrderService.Configuration;
using Pipeline.OrderService.Leadership;
using Pipeline.OrderService.Telemetry;
using Pipeline.ZooKeeper.Recipes;

namespace Pipeline.OrderService.Messaging;

/// <summary>
/// Group commit for the leader: concurrent CommitInventory deliveries are gathered into one fenced transaction (up to
/// CommitBatchSize orders, waiting at most CommitBatchTimeLimit for the batch to fill), and each delivery gets its own
/// decision back. One batch at a time: the fence serializes commits anyway. A delivery whose batch could not be committed
/// because leadership ended (or the fence refused us) fails with <see cref="LeadershipLostException"/> and is requeued; a
/// batch that fails for what one of its messages holds is split until only that message fails.
/// </summary>
public sealed class CommitBatcher(FencedCommitter committer, CommitLease commitLease, ConsumerActivation activation, PipelineMetrics metrics, IOptions<PipelineOptions> options, ILogger<CommitBatcher> logger)
    : IAsyncDisposable
{
    private static readonly TimeSpan FenceWaitLimit = TimeSpan.FromSeconds(10);
    private readonly Channel<Pending> queue = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource stop = new();
    private readonly Lock gate = new();

    private Task? loop;
    private Task committing = Task.CompletedTask; // the batch being committed, if any: a graceful handover waits for it
    private LeadershipLease? committedUnder; // the lease of the last batch committed: a new one means a handover

    /// <summary>Commits <paramref name="message"/> in the next batch and returns its decision.</summary>
    public Task<OrderDecision> CommitAsync(CommitInventory message, CancellationToken cancellationToken)
    {
        lock (gate)
        {
            loop ??= Task.Run(RunAsync, CancellationToken.None);
        }

        var pending = new Pending(message, new TaskCompletionSource<OrderDecision>(TaskCreationOptions.RunContinuationsAsynchronously));
        if (!queue.Writer.TryWrite(pending))
        {
            return Task.FromException<OrderDecision>(new LeadershipLostException("the committer is stopping"));
        }

        return pending.Decision.Task.WaitAsync(cancellationToken);
    }

    /// <summary>Completes once no batch is being committed. With the lease already cleared no new batch can start, so after
    /// this nothing of ours reaches Postgres any more and the successor can take over at once.</summary>
    public Task WhenIdleAsync(CancellationToken cancellationToken) => Volatile.Read(ref committing).WaitAsync(cancellationToken);

    public async ValueTask DisposeAsync()
    {
        queue.Writer.TryComplete();
        await stop.CancelAsync();
        if (loop is not null)
        {
            await loop;
        }

        stop.Dispose();
    }

    private async Task RunAsync()
    {
        var size = options.Value.CommitBatchSize;
        var limit = options.Value.CommitBatchTimeLimit;
        var batch = new List<Pending>(size);
        try
        {
            while (await queue.Reader.WaitToReadAsync(stop.Token))
            {
                batch.Clear();

                // The first batch of a new leadership goes at once with what has arrived: the rest of a handover's backlog
                // follows in the next batch, and the first decision does not wait for a batch to fill.
                var handover = !ReferenceEquals(commitLease.Current, committedUnder);
                using (var fill = new CancellationTokenSource(limit))
                {
                    while (batch.Count < size)
                    {
                        if (queue.Reader.TryRead(out var next))
                        {
                            batch.Add(next);
                            continue;
                        }

                        if (handover)
                        {
                            break;
                        }

                        try
                        {
                            if (!await queue.Reader.WaitToReadAsync(fill.Token))
                            {
                                break;
                            }
                        }
                        catch (OperationCanceledException)
                        {
                            break; // the time limit: commit what we have
                        }
                    }
                }

                var commit = CommitBatchAsync(batch);
                Volatile.Write(ref committing, commit);
                try
                {
                    await commit;
                }
#pragma warning disable CA1031 // A dead loop would leave every later delivery waiting forever: fail this batch, go on.
                catch (Exception ex) when (ex is not OperationCanceledException || !stop.IsCancellationRequested)
#pragma warning restore CA1031
                {
                    logger.LogError(ex, "A commit batch failed unexpectedly; its deliveries go back to the queue");
                    Fail(batch, new LeadershipLostException("the batch failed unexpectedly", ex));
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }

        while (queue.Reader.TryRead(out var left))
        {
            left.Decision.TrySetException(new LeadershipLostException("the committer stopped"));
        }
    }

    private async Task CommitBatchAsync(List<Pending> batch)
    {
        if (activation.Enabled)
        {
            await CommitSplittingAsync(batch, CommitUnfencedAsync);
            return;
        }

        // A new leader connects its endpoint while its fence is being acquired: the first batch waits for that outcome.
        var lease = await commitLease.WaitAsync(FenceWaitLimit);
        if (lease is null || lease.IsRevoked)
        {
            Fail(batch, new LeadershipLostException($"no valid lease ({lease?.RevokedBecause ?? "not leading"})"));
            return;
        }

        await CommitSplittingAsync(batch, part => CommitFencedAsync(part, lease));
    }

    /// <summary>
    /// Commits <paramref name="batch"/>; when the transaction fails for what a message holds (not a lost leadership, not a
    /// transient database error), commits its halves apart, down to the single message that fails alone: only that
    /// delivery gets the fault (retried, then parked with its reason in the error queue), the good orders of its batch commit.
    /// </summary>
    private async Task CommitSplittingAsync(List<Pending> batch, Func<List<Pending>, Task> commit)
    {
        try
        {
            await commit(batch);
        }
        catch (Exception ex) when (batch.Count > 1 && !RequeueWhenNotTheMessagesFaultFilter.IsNotTheMessagesFault(ex))
        {
            logger.LogWarning("A commit of {Orders} orders failed ({Reason}); committing its halves apart to find the message at fault", batch.Count, ex.Message);
            var half = batch.Count / 2;
            await CommitSplittingAsync(batch[..half], commit);
            await CommitSplittingAsync(batch[half..], commit);
        }
#pragma warning disable CA1031 // Every other failure belongs to the deliveries of this batch: each gets it, the loop goes on.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            if (batch.Count == 1 && !RequeueWhenNotTheMessagesFaultFilter.IsNotTheMessagesFault(ex))
            {
                logger.LogError("Order {OrderId} cannot be committed: {Reason}", OrderValidation.Printable(batch[0].Message.OrderId, 60), ex.Message);
            }

            Fail(batch, ex);
        }
    }

    /// <summary>One fenced transaction under <paramref name="lease"/>; a lease that ended or a fence that refused us ends in
    /// <see cref="LeadershipLostException"/> (the deliveries go back to the queue).</summary>
    private async Task CommitFencedAsync(List<Pending> batch, LeadershipLease lease)
    {
        if (lease.IsRevoked)
        {
            throw new LeadershipLostException($"lease ended: {lease.RevokedBecause}");
        }

        try
        {
            await CommitAndDecideAsync(batch, CommitLease.ToFenceToken(lease.Token), lease.NodeId, lease.CancellationToken);
            if (!ReferenceEquals(committedUnder, lease))
            {
                // How long the handover took on this side: from the lease to the first batch committed under it.
                committedUnder = lease;
                logger.LogInformation("First batch committed as leader with token {Token}: {Orders} orders, {Elapsed:0} ms after the lease was granted",
                    lease.Token, batch.Count, System.Diagnostics.Stopwatch.GetElapsedTime(lease.GrantedTimestamp).TotalMilliseconds);
            }
        }
        catch (StaleLeaderException ex)
        {
            metrics.FenceRejected();
            logger.LogError("Commit refused by the fence: {Reason}. Stepping down.", ex.Message);
            commitLease.ReportFencedOff(ex);
            throw new LeadershipLostException("fenced off", ex);
        }
        catch (OperationCanceledException ex) when (lease.IsRevoked)
        {
            throw new LeadershipLostException($"lease ended: {lease.RevokedBecause}", ex);
        }
    }

    /// <summary>The SingleActiveConsumer comparison mode: the batch goes out under this replica's activation token and
    /// nothing else. No lease can be revoked (RabbitMQ does not tell a consumer it was replaced), so the commit runs to its
    /// end whatever happened meanwhile: that is the mode's weakness the failover benchmark shows.</summary>
    private Task CommitUnfencedAsync(List<Pending> batch) =>
        activation.Current is { } token
            ? CommitAndDecideAsync(batch, token, activation.NodeId, CancellationToken.None)
            : throw new LeadershipLostException("not activated by the broker yet");

    /// <summary>One transaction for the batch; each delivery gets its decision. Failures are the caller's to hand out.</summary>
    private async Task CommitAndDecideAsync(List<Pending> batch, FenceToken token, string nodeId, CancellationToken cancellationToken)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var decisions = await committer.CommitAsync(token, nodeId, [.. batch.Select(p => p.Message)], cancellationToken);
        metrics.Committed(decisions, clock.Elapsed, token.ToString());
        for (var i = 0; i < batch.Count; i++)
        {
            batch[i].Decision.TrySetResult(decisions[i]);
        }
    }

    private static void Fail(List<Pending> batch, Exception exception)
    {
        foreach (var pending in batch)
        {
            pending.Decision.TrySetException(exception);
        }
    }

    private sealed record Pending(CommitInventory Message, TaskCompletionSource<OrderDecision> Decision);
}
