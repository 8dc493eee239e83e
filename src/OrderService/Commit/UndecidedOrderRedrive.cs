using MassTransit;
using Microsoft.Extensions.Options;
using Pipeline.Contracts;
using Pipeline.Inventory.Commit;
using Pipeline.Inventory.Intake;
using Pipeline.OrderService.Configuration;
using Pipeline.OrderService.Messaging;
using Pipeline.OrderService.Telemetry;

namespace Pipeline.OrderService.Commit;

/// <summary>
/// The leader's sweep for orders that nothing decides: every <see cref="PipelineOptions.RedriveInterval"/>, while this
/// replica holds a commit grant, it reads the orders still Received after <see cref="PipelineOptions.RedriveAge"/> and commits
/// them through the same fenced batches as the commit endpoint, then publishes their decisions. Normally it finds nothing
/// (an order is decided within a second); it exists so that "every recorded order is eventually decided" holds even when a
/// CommitInventory was lost. An order whose commit fails for its own content is left out for the rest of this grant,
/// logged once with the reason.
/// </summary>
public sealed class UndecidedOrderRedrive(
    UndecidedOrders orders,
    CommitBatcher batcher,
    ICommitAuthority authority,
    IBus bus,
    PipelineMetrics metrics,
    IOptions<PipelineOptions> options,
    ILogger<UndecidedOrderRedrive> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        var unusable = new HashSet<string>(StringComparer.Ordinal);
        CommitGrant? sweptUnder = null;
        string? lastError = null;
        using var timer = new PeriodicTimer(settings.RedriveInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                if (authority.Current is not { IsRevoked: false } grant)
                {
                    metrics.UndecidedUnknown();
                    continue;
                }

                if (!ReferenceEquals(grant, sweptUnder))
                {
                    sweptUnder = grant;
                    unusable.Clear();
                }

                using var linked = CancellationTokenSource.CreateLinkedTokenSource(grant.Revoked, stoppingToken);
                try
                {
                    await SweepAsync(settings, unusable, linked.Token).ConfigureAwait(false);
                    lastError = null;
                }
                catch (OperationCanceledException) when (linked.IsCancellationRequested)
                {
                }
                catch (Exception ex) when (ex is Npgsql.NpgsqlException or TimeoutException or MassTransitException)
                {
                    if (ex.Message != lastError)
                    {
                        logger.LogWarning("The re-drive of undecided orders failed ({Reason}); trying again in {Interval}", ex.Message, settings.RedriveInterval);
                        lastError = ex.Message;
                    }
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task SweepAsync(PipelineOptions settings, HashSet<string> unusable, CancellationToken token)
    {
        var (count, oldest) = await orders.SummaryAsync(token).ConfigureAwait(false);
        metrics.Undecided(count, oldest);
        if (count == 0)
        {
            return;
        }

        var due = (await orders.OldestAsync(settings.RedriveAge, settings.CommitBatchSize + unusable.Count, token).ConfigureAwait(false))
            .Where(o => !unusable.Contains(o.OrderId)).Take(settings.CommitBatchSize).ToList();
        if (due.Count == 0)
        {
            return;
        }

        var commits = due.Select(o => batcher.CommitAsync(new CommitInventory { OrderId = o.OrderId, Lines = o.Lines }, token)).ToList();
        try
        {
            await Task.WhenAll(commits).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // Each order's outcome is read from its own task below.
        catch
#pragma warning restore CA1031
        {
        }

        var decided = new List<OrderDecision>();
        for (var i = 0; i < due.Count; i++)
        {
            var commit = commits[i];
            if (commit.IsCompletedSuccessfully)
            {
                decided.Add(commit.Result);
            }
            else if (commit.Exception?.GetBaseException() is { } error and not LeadershipLostException and not OperationCanceledException
                     && !RequeueWhenNotTheMessagesFaultFilter.IsNotTheMessagesFault(error))
            {
                unusable.Add(due[i].OrderId);
                metrics.Redriven("failed", 1);
                logger.LogError("Undecided order {OrderId} cannot be committed ({Reason}); the re-drive leaves it out for this leadership", due[i].OrderId, error.Message);
            }
        }

        foreach (var decision in decided)
        {
            await bus.Publish(CommitInventoryConsumer.ToEvent(decision), token).ConfigureAwait(false);
        }

        metrics.Redriven("decided", decided.Count);
        if (decided.Count == 0)
        {
            return;
        }

        logger.LogWarning("Re-drove {Count} undecided orders received up to {Oldest:HH:mm:ss.fff} (older than {Age}): {Confirmed} confirmed, {Rejected} rejected, {Already} decided meanwhile",
            decided.Count, due[^1].ReceivedAt, settings.RedriveAge, decided.Count(d => d is { Confirmed: true, AlreadyDecided: false }),
            decided.Count(d => d is { Confirmed: false, AlreadyDecided: false }), decided.Count(d => d.AlreadyDecided));
    }
}
