using MassTransit;
using Microsoft.Extensions.Options;
using Pipeline.Contracts;
using Pipeline.Inventory.Commit;
using Pipeline.OrderService.Configuration;
using Pipeline.OrderService.Messaging;

namespace Pipeline.OrderService.Commit;

/// <summary>
/// A standby's commit path, run once to no effect before it joins the election. A new leader's first commit would otherwise
/// pay for JIT compilation, MassTransit building the endpoint and its consume pipeline, and Npgsql resolving the commit's
/// parameter types: a few hundred milliseconds of every handover on a busy machine (bench/run failover). So:
/// <list type="bullet">
/// <item>the commit transaction, rolled back, touching no row (<see cref="FencedCommitter.WarmUpAsync"/>);</item>
/// <item>the commit endpoint, configured as the real one, on a queue of its own (random name, auto-delete, no bindings), with
/// one CommitInventoryBatch that the consumer recognises by that queue (<see cref="IsWarmUp"/>) and lets go without a commit.
/// Nothing else can reach that queue, so no real order is ever let go this way.</item>
/// </list>
/// A failure only costs that time later: it is logged, never fatal.
/// </summary>
public sealed class CommitPathWarmUp(
    IBus bus,
    IReceiveEndpointConnector connector,
    FencedCommitter committer,
    IOptions<PipelineOptions> pipelineOptions,
    ILogger<CommitPathWarmUp> logger)
{
    private static readonly string QueuePrefix = Topology.CommitQueue + "-warm-up-";
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(30);
    private readonly TaskCompletionSource delivered = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>True for a delivery from a warm-up queue, which the consumer must let go without committing.</summary>
    public bool IsWarmUp(ConsumeContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        // On every commit delivery: no allocation, just the last path segment of the input address.
        var path = context.ReceiveContext.InputAddress?.AbsolutePath;
        if (path is null || !path.AsSpan(path.LastIndexOf('/') + 1).StartsWith(QueuePrefix, StringComparison.Ordinal))
        {
            return false;
        }

        delivered.TrySetResult();
        return true;
    }

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        try
        {
            await committer.WarmUpAsync(cancellationToken).ConfigureAwait(false);
            await WarmUpEndpointAsync(cancellationToken).ConfigureAwait(false);
            logger.LogInformation("Commit path warmed up in {Elapsed:0} ms", clock.Elapsed.TotalMilliseconds);
        }
        catch (Exception ex) when (ex is Npgsql.NpgsqlException or InvalidOperationException or TimeoutException or MassTransitException)
        {
            logger.LogWarning(ex, "Could not warm up the commit path; the first commit as leader will be slower");
        }
    }

    private async Task WarmUpEndpointAsync(CancellationToken cancellationToken)
    {
        var options = pipelineOptions.Value;
        var handle = connector.ConnectReceiveEndpoint(QueuePrefix + Guid.NewGuid().ToString("N"),
            (context, cfg) => MessagingSetup.ConfigureCommitEndpoint(context, cfg, options, warmUp: true));
        try
        {
            var ready = await handle.Ready.WaitAsync(Limit, cancellationToken).ConfigureAwait(false);
            var endpoint = await bus.GetSendEndpoint(ready.InputAddress).ConfigureAwait(false);
            await endpoint.Send(new CommitInventoryBatch { Orders = [new CommitInventory { OrderId = "warm-up", Lines = [new OrderLine { Sku = "warm-up", Quantity = 1 }] }] },
                cancellationToken).ConfigureAwait(false);
            await delivered.Task.WaitAsync(Limit, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            using var stop = new CancellationTokenSource(Limit);
            await handle.StopAsync(stop.Token).ConfigureAwait(false);
        }
    }
}
