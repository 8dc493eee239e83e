using System.Diagnostics;
using System.Threading.Channels;
using Microsoft.Extensions.Options;
using Pipeline.Contracts;
using Pipeline.Inventory.Commit;
using Pipeline.OrderService.Configuration;
using Pipeline.OrderService.Messaging;
using Pipeline.OrderService.Telemetry;

namespace Pipeline.OrderService.Commit;

/// <summary>
/// Group commit for the leader: concurrent CommitInventory deliveries are gathered into one fenced transaction (up to
/// CommitBatchSize orders, waiting at most CommitBatchTimeLimit for the batch to fill), and each delivery gets its own
/// decision back. One batch at a time: the fence serializes commits anyway. Each batch commits under the grant of the
/// <see cref="ICommitAuthority"/>; a delivery whose batch could not be committed because the grant ended (or the fence
/// refused it) fails with <see cref="LeadershipLostException"/> and is requeued; a batch that fails for what one of its
/// messages holds is split until only that message fails. Each transaction is a "commit batch" span linked to the spans of
/// the deliveries it serves (<see cref="PipelineTracing"/>).
/// </summary>
public sealed class CommitBatcher(FencedCommitter committer, ICommitAuthority authority, PipelineMetrics metrics, IOptions<PipelineOptions> options, ILogger<CommitBatcher> logger)
    : IAsyncDisposable
{
    private static readonly TimeSpan FenceWaitLimit = TimeSpan.FromSeconds(10);
    private readonly Channel<Pending> queue = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource stop = new();
    private readonly Lock gate = new();

    private Task? loop;
    private CommitGrant? committedUnder; // the grant of the last batch committed: a new one means a handover

    /// <summary>Commits <paramref name="message"/> in the next batch and returns its decision.</summary>
    public async Task<OrderDecision> CommitAsync(CommitInventory message, CancellationToken cancellationToken) =>
        (await CommitTracedAsync(message, cancellationToken).ConfigureAwait(false)).Decision;

    /// <summary>Commits <paramref name="message"/> in the next batch, the current span linked from the batch's; returns the
    /// decision with the context of the commit batch's span.</summary>
    public Task<BatchedDecision> CommitTracedAsync(CommitInventory message, CancellationToken cancellationToken)
    {
        lock (gate)
        {
            if (loop is null)
            {
                // The loop outlives the delivery that starts it: it must not run under that delivery's span.
                using (ExecutionContext.SuppressFlow())
                {
                    loop = Task.Run(RunAsync, CancellationToken.None);
                }
            }
        }

        var pending = new Pending(message, Activity.Current?.Context ?? default, new TaskCompletionSource<BatchedDecision>(TaskCreationOptions.RunContinuationsAsynchronously));
        if (!queue.Writer.TryWrite(pending))
        {
            return Task.FromException<BatchedDecision>(new LeadershipLostException("the committer is stopping"));
        }

        return pending.Decision.Task.WaitAsync(cancellationToken);
    }

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
                // follows in the next batch, and the first decision does not wait for a batch to fill
                // (CommitBatcherTests.The_first_batch_of_a_leadership_goes_at_once_with_what_has_arrived).
                var handover = !ReferenceEquals(authority.Current, committedUnder);
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

                try
                {
                    await CommitBatchAsync(batch);
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
        // A new leader connects its endpoint while its fence is being acquired: the first batch waits for that outcome.
        var grant = await authority.WaitForGrantAsync(FenceWaitLimit);
        if (grant is null || grant.IsRevoked)
        {
            Fail(batch, new LeadershipLostException($"no valid grant ({grant?.RevokedBecause ?? "not leading"})"));
            return;
        }

        await CommitSplittingAsync(batch, grant);
    }

    /// <summary>
    /// Commits <paramref name="batch"/>; when the transaction fails for what a message holds (not a lost leadership, not a
    /// transient database error), commits its halves apart, down to the single message that fails alone: only that
    /// delivery gets the fault (retried, then parked with its reason in the error queue), the good orders of its batch commit.
    /// </summary>
    private async Task CommitSplittingAsync(List<Pending> batch, CommitGrant grant)
    {
        try
        {
            await CommitFencedAsync(batch, grant);
        }
        catch (Exception ex) when (batch.Count > 1 && !RequeueWhenNotTheMessagesFaultFilter.IsNotTheMessagesFault(ex))
        {
            logger.LogWarning("A commit of {Orders} orders failed ({Reason}); committing its halves apart to find the message at fault", batch.Count, ex.Message);
            var half = batch.Count / 2;
            await CommitSplittingAsync(batch[..half], grant);
            await CommitSplittingAsync(batch[half..], grant);
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

    /// <summary>One fenced transaction under <paramref name="grant"/>, each delivery getting its decision; a grant that ended
    /// or a fence that refused it ends in <see cref="LeadershipLostException"/> (the deliveries go back to the queue).</summary>
    private async Task CommitFencedAsync(List<Pending> batch, CommitGrant grant)
    {
        if (!grant.TryBeginCommit())
        {
            throw new LeadershipLostException($"grant ended: {grant.RevokedBecause}");
        }

        using var span = PipelineTracing.StartCommitBatch(batch.Select(p => p.Caller), batch.Select(p => p.Message.OrderId), batch.Count, grant.Token, grant.NodeId);
        try
        {
            var clock = Stopwatch.StartNew();
            var decisions = await committer.CommitAsync(grant.Token, grant.NodeId, [.. batch.Select(p => p.Message)], grant.Revoked);
            metrics.Committed(decisions, clock.Elapsed, grant.Token.ToString());
            for (var i = 0; i < batch.Count; i++)
            {
                batch[i].Decision.TrySetResult(new BatchedDecision(decisions[i], span?.Context ?? default));
            }

            if (!ReferenceEquals(committedUnder, grant))
            {
                // How long the handover took on this side: from the grant to the first batch committed under it.
                committedUnder = grant;
                logger.LogInformation("First batch committed as leader with token {Token}: {Orders} orders, {Elapsed:0} ms after the lease was granted",
                    grant.Token, batch.Count, Stopwatch.GetElapsedTime(grant.GrantedTimestamp).TotalMilliseconds);
            }
        }
        catch (StaleLeaderException ex)
        {
            metrics.FenceRejected();
            span?.AddEvent(new ActivityEvent("fence rejected"));
            PipelineTracing.Failed(span, ex);
            logger.LogError("Commit refused by the fence: {Reason}. Stepping down.", ex.Message);
            authority.FencedOff(ex);
            throw new LeadershipLostException("fenced off", ex);
        }
        catch (OperationCanceledException ex) when (grant.IsRevoked)
        {
            PipelineTracing.Failed(span, ex);
            throw new LeadershipLostException($"grant ended: {grant.RevokedBecause}", ex);
        }
        catch (Exception ex)
        {
            PipelineTracing.Failed(span, ex);
            throw;
        }
        finally
        {
            grant.EndCommit();
        }
    }

    private static void Fail(List<Pending> batch, Exception exception)
    {
        foreach (var pending in batch)
        {
            pending.Decision.TrySetException(exception);
        }
    }

    /// <param name="Caller">The span of the delivery that asked (default: none), linked from the batch's.</param>
    private sealed record Pending(CommitInventory Message, ActivityContext Caller, TaskCompletionSource<BatchedDecision> Decision);
}

/// <summary>An order's decision and the context of the commit batch's span that decided it (default when not traced).</summary>
public sealed record BatchedDecision(OrderDecision Decision, ActivityContext CommitBatch);
