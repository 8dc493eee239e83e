using System.Threading.Channels;
using MassTransit;
using Microsoft.Extensions.Options;
using Pipeline.Inventory.Commit;
using Pipeline.OrderService.Configuration;
using Pipeline.OrderService.Messaging;
using Pipeline.OrderService.Telemetry;
using Pipeline.ZooKeeper.Client;
using Pipeline.ZooKeeper.Recipes;

namespace Pipeline.OrderService.Leadership;

/// <summary>
/// Runs this replica's election candidacy and gates the inventory-commit endpoint on it. Leadership changes are applied one
/// at a time, in order, so a stop always completes before the next connect:
/// <list type="bullet">
/// <item>Lease granted: bump the fence first (a refusal means our token is older than one already seen: resign), then
/// connect the commit endpoint.</item>
/// <item>Lease ended (connection lost, session expired, node deleted, resigned): stop the endpoint at once; in-flight batches
/// see their lease cancelled, are not acknowledged and go back to the queue.</item>
/// <item>Fenced off by Postgres: resign, then rejoin at the back of the line, at once after one refusal and with growing
/// pauses after more (<see cref="FenceStatus"/>).</item>
/// <item>A commit endpoint that does not stop within <see cref="PipelineOptions.CommitEndpointStopTimeout"/> is torn down:
/// its channels are closed, so the broker hands its unacknowledged deliveries to the next leader.</item>
/// <item>Graceful shutdown: clear the lease and let the batch being committed (if any) finish, then resign while the endpoint
/// stops, so the successor leads within milliseconds.</item>
/// </list>
/// </summary>
public sealed class LeadershipService(
    IBusControl bus,
    IReceiveEndpointConnector connector,
    FencedCommitter committer,
    CommitLease commitLease,
    CommitBatcher batcher,
    CommitPathWarmUp warmUp,
    FenceStatus fenceStatus,
    CommitEndpointChannels channels,
    UndecidedOrderRedrive redrive,
    PipelineMetrics metrics,
    IOptions<PipelineOptions> pipelineOptions,
    IOptions<ZooKeeperOptions> zooKeeperOptions,
    IOptions<RabbitMqOptions> rabbitOptions,
    IHostApplicationLifetime lifetime,
    ILoggerFactory loggerFactory) : BackgroundService
{
    private readonly ILogger logger = loggerFactory.CreateLogger<LeadershipService>();
    private readonly Channel<object> work = Channel.CreateUnbounded<object>(new UnboundedChannelOptions { SingleReader = true });
    private ElectionCandidate? candidate;
    private HostReceiveEndpointHandle? endpoint;
    private bool outOfElection; // resigned after a fence refusal, a rejoin scheduled
    private bool handedOver;

    /// <summary>The candidate, once started (for status and health).</summary>
    public ElectionCandidate? Candidate => candidate;

    public bool CommitEndpointConnected => endpoint is not null;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var options = pipelineOptions.Value;
        await Topology.DeclareCommitQueueAsync(rabbitOptions.Value, options.QuorumQueues, stoppingToken).ConfigureAwait(false);

        // Only a started bus can host the commit endpoint: an endpoint connected while the bus is still starting may never
        // receive. So no candidacy before the bus is healthy.
        var health = await bus.WaitForHealthStatus(BusHealthStatus.Healthy, TimeSpan.FromMinutes(2)).ConfigureAwait(false);
        if (health != BusHealthStatus.Healthy)
        {
            throw new InvalidOperationException($"The message bus did not become healthy ({health}); not joining the election.");
        }

        await warmUp.RunAsync(stoppingToken).ConfigureAwait(false);
        var zk = zooKeeperOptions.Value;
        var candidateOptions = new ElectionCandidateOptions
        {
            ConnectString = zk.ConnectString,
            SessionTimeout = zk.SessionTimeout,
            ElectionPath = zk.ElectionPath,
            NodeId = options.NodeId,
            Version = typeof(LeadershipService).Assembly.GetName().Version?.ToString() ?? "0",
            LoggerFactory = loggerFactory,
            Credential = string.IsNullOrEmpty(zk.DigestUser) ? null : new DigestCredential(zk.DigestUser, zk.DigestPassword ?? ""),
        };
        candidate = new ElectionCandidate(candidateOptions);
        commitLease.FencedOff += OnFencedOff;
        candidate.Start();
        var changes = Task.Run(() => ForwardChangesAsync(candidate, stoppingToken), CancellationToken.None);

        // SIGTERM: hand over at once, in order with the other changes, rather than when the host reaches this service's
        // StopAsync (after the web server and the services registered later have stopped: most of a graceful handover).
        using var handOver = lifetime.ApplicationStopping.Register(() => work.Writer.TryWrite(new HandOver()));

        try
        {
            await foreach (var item in work.Reader.ReadAllAsync(stoppingToken).ConfigureAwait(false))
            {
                try
                {
                    await ApplyAsync(item, stoppingToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
                {
                    // Whatever one change throws, the next must still be applied: a dead loop would leave this replica
                    // leading (or blocking) with nobody to notice. Without a certain state: stop committing, stand again.
                    logger.LogError(ex, "Applying a leadership change failed; stopping the commit endpoint and standing again");
                    await StopEndpointAsync("a leadership change failed").ConfigureAwait(false);
                    work.Writer.TryWrite(new Resign(TimeSpan.FromSeconds(1)));
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }

        await changes.ConfigureAwait(false);
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        // Usually done already on ApplicationStopping (HandOver); both steps are idempotent.
        await HandOverAsync(cancellationToken).ConfigureAwait(false);
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        if (candidate is not null)
        {
            await candidate.DisposeAsync().ConfigureAwait(false);
        }

        commitLease.FencedOff -= OnFencedOff;
    }

    /// <summary>Graceful handover: no new commits, then our node goes so the successor is told at once.</summary>
    private async Task HandOverAsync(CancellationToken cancellationToken)
    {
        // No batch starts after this; the one in its transaction (a few milliseconds) finishes. From then on nothing of ours
        // reaches Postgres, so the successor may lead while our endpoint still stops: its in-flight deliveries publish their
        // decisions or are requeued, which takes longer than the successor needs to take over (and the fence would refuse
        // a straggler anyway).
        commitLease.Set(null);
        using (var idle = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            idle.CancelAfter(pipelineOptions.Value.ShutdownTimeout);
            try
            {
                await batcher.WhenIdleAsync(idle.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                logger.LogWarning("The batch being committed did not finish in time; resigning anyway (the fence refuses it if it still runs)");
            }
        }

        handedOver = true;
        var resigning = ResignAsync(cancellationToken);
        await StopEndpointAsync("shutting down").ConfigureAwait(false);
        await resigning.ConfigureAwait(false);
    }

    private async Task ResignAsync(CancellationToken cancellationToken)
    {
        if (candidate is null)
        {
            return;
        }

        try
        {
            await candidate.ResignAsync(cancellationToken).WaitAsync(TimeSpan.FromSeconds(5), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
        {
            logger.LogWarning("Could not resign in time ({Reason}); closing the session instead", ex.Message);
        }
    }

    private async Task ForwardChangesAsync(ElectionCandidate source, CancellationToken token)
    {
        try
        {
            await foreach (var change in source.WatchChangesAsync(token).ConfigureAwait(false))
            {
                if (change is { State: ElectionState.Leader, Lease: { } lease })
                {
                    // The stop must not wait for the change stream: the lease's own cancellation queues it at once.
                    lease.CancellationToken.Register(() => work.Writer.TryWrite(new LeaseEnded(lease)));
                }

                work.Writer.TryWrite(change);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task ApplyAsync(object item, CancellationToken token)
    {
        switch (item)
        {
            case LeadershipChange { State: ElectionState.Leader, Lease: { IsRevoked: false } lease }:
                metrics.LeadershipChanged(ElectionState.Leader, lease);
                await StartCommittingAsync(lease, token).ConfigureAwait(false);
                break;
            case LeadershipChange change:
                metrics.LeadershipChanged(change.State, null);
                await StopEndpointAsync(change.Reason).ConfigureAwait(false);
                break;
            case LeaseEnded ended when ReferenceEquals(commitLease.Current, ended.Lease):
                await StopEndpointAsync($"lease ended: {ended.Lease.RevokedBecause}").ConfigureAwait(false);
                break;
            case HandOver:
                await HandOverAsync(token).ConfigureAwait(false);
                break;
            case Resign resign when !outOfElection && !handedOver:
                await StopEndpointAsync("fenced off").ConfigureAwait(false);
                await candidate!.ResignAsync(token).ConfigureAwait(false);
                outOfElection = true;
                if (resign.Delay > TimeSpan.Zero)
                {
                    logger.LogWarning("Out of the election for {Delay:0.0} s after {Refusals} fence refusals in a row", resign.Delay.TotalSeconds, fenceStatus.Current.ConsecutiveRefusals);
                }

                _ = Task.Delay(resign.Delay, token).ContinueWith(t => work.Writer.TryWrite(new Rejoin()), CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);
                break;
            case Rejoin when outOfElection && !handedOver:
                outOfElection = false;
                candidate!.Rejoin();
                break;
            default:
                break;
        }
    }

    private async Task StartCommittingAsync(LeadershipLease lease, CancellationToken token)
    {
        await StopEndpointAsync("new lease").ConfigureAwait(false);
        var fence = CommitLease.ToFenceToken(lease.Token);

        // The endpoint connects while the fence is bumped (each takes tens of milliseconds of a handover); its deliveries wait
        // in the batcher until the fence has accepted our token (CommitLease.WaitAsync), and go back to the queue if not.
        // The bump goes out first: building the endpoint takes the calling thread for a while before it returns.
        commitLease.BeginAcquiring();
        var acquiring = AcquireFenceAsync(lease, fence, token);
        var options = pipelineOptions.Value;
        endpoint = connector.ConnectReceiveEndpoint(Topology.CommitQueue, (context, cfg) => MessagingSetup.ConfigureCommitEndpoint(context, cfg, options));
        var ready = endpoint.Ready;
        var acquisition = await acquiring.ConfigureAwait(false);
        if (acquisition is null)
        {
            await StopEndpointAsync($"lease ended while acquiring the fence: {lease.RevokedBecause ?? "stopping"}").ConfigureAwait(false);
            return;
        }

        metrics.FenceAcquisition(acquisition.Acquired);
        if (!acquisition.Acquired)
        {
            await StopEndpointAsync("fence refused our token").ConfigureAwait(false);
            work.Writer.TryWrite(new Resign(FenceRefused(fence, acquisition.Current)));
            return;
        }

        if (fenceStatus.Acquired(fence))
        {
            logger.LogWarning("The fence took our token {Token}: commits flow again", fence);
        }

        if (lease.IsRevoked || token.IsCancellationRequested)
        {
            await StopEndpointAsync("lease ended while acquiring the fence").ConfigureAwait(false);
            return;
        }

        commitLease.Set(lease);
        await ready.WaitAsync(token).ConfigureAwait(false);
        logger.LogInformation("Committing as leader {NodeId} with token {Token}", lease.NodeId, fence);
        _ = redrive.RunAsync(lease, token);
    }

    /// <summary>Notes a refusal by the fence; logs it when it tells something new (not on every retry); the pause before we
    /// stand again.</summary>
    private TimeSpan FenceRefused(FenceToken ours, FenceToken current)
    {
        var (delay, changed) = fenceStatus.Refused(ours, current);
        if (changed && fenceStatus.Current.Reason is { } blocked)
        {
            logger.LogCritical("ALARM: {Reason} (our token {Token})", blocked, ours);
        }
        else if (changed)
        {
            logger.LogError("The fence refused our token {Token}: it has seen {Current}, a newer leader's; standing again behind it", ours, current);
        }

        return delay;
    }

    /// <summary>Bumps the fence with our token. While the database cannot be reached nobody can commit, so we keep the lease
    /// and retry (with backoff) rather than hand leadership around; null once the lease ends or the service stops.</summary>
    private async Task<FenceAcquisition?> AcquireFenceAsync(LeadershipLease lease, FenceToken fence, CancellationToken stopping)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(lease.CancellationToken, stopping);
        var delay = TimeSpan.FromMilliseconds(100);
        while (true)
        {
            try
            {
                return await committer.AcquireFenceAsync(fence, lease.NodeId, linked.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (linked.IsCancellationRequested)
            {
                return null;
            }
            catch (Npgsql.NpgsqlException ex)
            {
                logger.LogWarning("Could not acquire the fence with token {Token} ({Reason}); retrying in {Delay} ms", fence, ex.Message, delay.TotalMilliseconds);
            }

            try
            {
                await Task.Delay(delay, linked.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return null;
            }

            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(2).Ticks));
        }
    }

    /// <summary>No commit starts after this; the endpoint's deliveries fail back to the queue. An endpoint that has not
    /// stopped within the limit is torn down (its channels closed), so no delivery stays with a replica that cannot commit.</summary>
    private async Task StopEndpointAsync(string reason)
    {
        var handle = endpoint;
        commitLease.Set(null);
        if (handle is null)
        {
            return;
        }

        endpoint = null;
        logger.LogWarning("Stopping the commit endpoint: {Reason}", reason);
        var limit = pipelineOptions.Value.CommitEndpointStopTimeout;
        using var timeout = new CancellationTokenSource(limit);
        var stopping = handle.StopAsync(timeout.Token);

        // MassTransit does not always honour the token (an endpoint stopped while it is still starting was seen to hang):
        // the wait is bounded here, whatever the stop does.
        if (await Task.WhenAny(stopping, Task.Delay(limit + TimeSpan.FromSeconds(1), CancellationToken.None)).ConfigureAwait(false) == stopping)
        {
            try
            {
                await stopping.ConfigureAwait(false);
                return;
            }
            catch (OperationCanceledException)
            {
            }
#pragma warning disable CA1031 // A failed stop is torn down like a slow one; the leadership loop must go on either way.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                logger.LogError(ex, "Stopping the commit endpoint failed");
            }
        }
        else
        {
            _ = stopping.ContinueWith(t => logger.LogWarning("The commit endpoint's stop ended late ({Status})", t.Status), CancellationToken.None,
                TaskContinuationOptions.None, TaskScheduler.Default);
        }

        logger.LogError("The commit endpoint did not stop within {Timeout}; closing its channels so the broker requeues what it holds", limit);
        await channels.CloseAllAsync($"commit endpoint torn down: {reason}").ConfigureAwait(false);
    }

    private void OnFencedOff(object? sender, StaleLeaderException e) => work.Writer.TryWrite(new Resign(FenceRefused(e.Token, e.Current)));

    private sealed record LeaseEnded(LeadershipLease Lease);

    private sealed record Resign(TimeSpan Delay);

    private sealed record Rejoin;

    private sealed record HandOver;
}
