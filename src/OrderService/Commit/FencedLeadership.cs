using System.Threading.Channels;
using MassTransit;
using Microsoft.Extensions.Options;
using Npgsql;
using Pipeline.Inventory.Commit;
using Pipeline.Inventory.Status;
using Pipeline.OrderService.Configuration;
using Pipeline.OrderService.Messaging;
using Pipeline.OrderService.Telemetry;
using Pipeline.ZooKeeper.Recipes;

namespace Pipeline.OrderService.Commit;

/// <summary>
/// The product's <see cref="ICommitAuthority"/>: this replica's election candidacy, and the commit endpoint gated on it.
/// Changes are applied one at a time, in order, so a stop always completes before the next connect:
/// <list type="bullet">
/// <item><see cref="Granted"/>: bump the fence (beside <see cref="FencedCommitter"/>, retried while the database is away),
/// connecting the commit endpoint meanwhile; then hand out the grant. A refusal means a newer leader exists: resign.</item>
/// <item><see cref="Ended"/> (connection lost, session expired, node deleted, resigned): revoke the grant and stop the
/// endpoint at once; in-flight batches fail, are not acknowledged and go back to the queue.</item>
/// <item><see cref="Refused"/> (Postgres refused a commit: fenced off): resign, then rejoin at the back of the line, at once after one
/// refusal and with growing pauses after more (<see cref="FenceStatus"/>).</item>
/// <item><see cref="HandOver"/> (SIGTERM): close the grant and let the batch in its transaction finish, then resign while
/// the endpoint stops, so the successor leads within milliseconds.</item>
/// </list>
/// Only the fence decides whether a commit lands: the phases here keep a deposed leader from trying, they do not make it safe.
/// </summary>
public sealed class FencedLeadership(
    IBusControl bus,
    CommitEndpoint endpoint,
    FencedCommitter committer,
    CommitPathWarmUp warmUp,
    FenceStatus fenceStatus,
    PipelineMetrics metrics,
    AdvisoryLockCrashSignal crashSignal,
    LeaderSuccessions successions,
    FencedCommitterOptions committerOptions,
    IOptions<PipelineOptions> pipelineOptions,
    IOptions<ZooKeeperOptions> zooKeeperOptions,
    IOptions<RabbitMqOptions> rabbitOptions,
    IHostApplicationLifetime lifetime,
    ILoggerFactory loggerFactory) : BackgroundService, ICommitAuthority
{
    private readonly ILogger logger = loggerFactory.CreateLogger<FencedLeadership>();
    private readonly Channel<Change> changes = Channel.CreateUnbounded<Change>(new UnboundedChannelOptions { SingleReader = true });
    private ElectionCandidate? candidate;
    private LeadershipLease? lease; // the lease being acquired or committed under
    private CommitGrant? current;
    private TaskCompletionSource<CommitGrant?>? pending; // a grant whose fence is being acquired
    private Phase phase = Phase.Standing;

    /// <summary>Where this replica is, as the loop applies changes.</summary>
    private enum Phase
    {
        /// <summary>In the election, not leading.</summary>
        Standing,

        /// <summary>Leading; the fence is being bumped with our token and the endpoint connects.</summary>
        Acquiring,

        /// <summary>Leading, the fence took our token: the grant is out.</summary>
        Committing,

        /// <summary>Resigned after a fence refusal; a rejoin is scheduled.</summary>
        OutOfElection,

        /// <summary>Shutting down: resigned for good.</summary>
        HandedOver,
    }

    /// <summary>The candidate, once started (for status and health).</summary>
    public ElectionCandidate? Candidate => candidate;

    public CommitGrant? Current => Volatile.Read(ref current);

    /// <summary>Nothing to learn from a delivery: the election, not the broker, says who leads.</summary>
    public ValueTask AdmitAsync(ConsumeContext context) => ValueTask.CompletedTask;

    public async ValueTask<CommitGrant?> WaitForGrantAsync(TimeSpan limit)
    {
        if (Volatile.Read(ref pending) is not { } acquiring)
        {
            return Current;
        }

        try
        {
            return await acquiring.Task.WaitAsync(limit).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            return null;
        }
    }

    public void FencedOff(StaleLeaderException refusal)
    {
        ArgumentNullException.ThrowIfNull(refusal);
        changes.Writer.TryWrite(new Refused(refusal.Token, refusal.Current));
    }

    /// <summary>The commit endpoint receives nothing under <paramref name="grant"/> (<see cref="CommitEndpointWatchdog"/>):
    /// stop it and connect a new one, in order with the other changes, keeping the grant.</summary>
    internal void ReconnectEndpoint(CommitGrant grant, string reason) => changes.Writer.TryWrite(new Reconnect(grant, reason));

    public async Task<LeadershipStatus> DescribeAsync(CancellationToken cancellationToken)
    {
        var c = candidate;
        if (c is null)
        {
            return new LeadershipStatus("starting", null, false, null, [], [], null);
        }

        IReadOnlyList<LeadershipCandidate> candidates = [];
        IReadOnlyList<string> foreign = [];
        string? error = null;
        try
        {
            var nodes = await c.GetCandidatesAsync(cancellationToken).ConfigureAwait(false);
            candidates = [.. nodes.Where(n => n.IsEphemeral).Select(n => new LeadershipCandidate(n.Name, n.Sequence, $"0x{n.SessionId:x}", n.Info?.NodeId, n.Info?.Host, n.Info?.Pid))];
            foreign = [.. nodes.Where(n => !n.IsEphemeral).Select(n => n.Name)];
        }
        catch (Exception ex) when (ex is Pipeline.ZooKeeper.Protocol.KeeperException or InvalidOperationException or ObjectDisposedException)
        {
            error = ex.Message;
        }

        var held = c.CurrentLease;
        return new LeadershipStatus(c.State.ToString(), c.FailureReason, held is not null && endpoint.IsConnected,
            held is null ? null : ToFenceToken(held.Token), candidates, foreign, error)
        {
            History = c.History,
            CrashSignal = c.CrashSignal,
        };
    }

    /// <summary>The one place the election's token becomes the fence's: the same two numbers under the same names.</summary>
    internal static FenceToken ToFenceToken(FencingToken token) => new(token.Generation, token.Sequence);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Topology.DeclareCommitQueueAsync(rabbitOptions.Value, pipelineOptions.Value.QuorumQueues, stoppingToken).ConfigureAwait(false);

        // Only a started bus can host the commit endpoint: an endpoint connected while the bus is still starting may never
        // receive. So no candidacy before the bus is healthy.
        var health = await bus.WaitForHealthStatus(BusHealthStatus.Healthy, TimeSpan.FromMinutes(2)).ConfigureAwait(false);
        if (health != BusHealthStatus.Healthy)
        {
            throw new InvalidOperationException($"The message bus did not become healthy ({health}); not joining the election.");
        }

        await warmUp.RunAsync(stoppingToken).ConfigureAwait(false);
        var candidateOptions = zooKeeperOptions.Value.ToCandidateOptions(pipelineOptions.Value.NodeId, loggerFactory);
        candidateOptions.CrashSignal = crashSignal; // a crashed leader is succeeded in milliseconds, not a session timeout
        candidate = new ElectionCandidate(candidateOptions);
        candidate.Start();
        var forwarding = Task.Run(() => ForwardElectionAsync(candidate, stoppingToken), CancellationToken.None);

        // SIGTERM: hand over at once, in order with the other changes, rather than when the host reaches this service's
        // StopAsync (after the web server and the services registered later have stopped: most of a graceful handover).
        using var handOver = lifetime.ApplicationStopping.Register(() => changes.Writer.TryWrite(new HandOver()));
        try
        {
            await foreach (var change in changes.Reader.ReadAllAsync(stoppingToken).ConfigureAwait(false))
            {
                try
                {
                    await ApplyAsync(change, stoppingToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
                {
                    // Whatever one change throws, the next must still be applied: a dead loop would leave this replica
                    // leading (or blocking) with nobody to notice. Without a certain state: stop committing, stand again.
                    logger.LogError(ex, "Applying a leadership change failed; stopping the commit endpoint and standing again");
                    await StopCommittingAsync("a leadership change failed").ConfigureAwait(false);
                    changes.Writer.TryWrite(new StandAgain(TimeSpan.FromSeconds(1)));
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }

        await forwarding.ConfigureAwait(false);
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        // Usually done already on ApplicationStopping (HandOver); every step is idempotent.
        await HandOverAsync(cancellationToken).ConfigureAwait(false);
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        if (candidate is not null)
        {
            await candidate.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>The election's changes become <see cref="Granted"/> and <see cref="Ended"/>. A lease's own cancellation queues
    /// its end at once: the stop must not wait for the change stream.</summary>
    private async Task ForwardElectionAsync(ElectionCandidate source, CancellationToken token)
    {
        try
        {
            await foreach (var change in source.WatchChangesAsync(token).ConfigureAwait(false))
            {
                if (change is { State: ElectionState.Leader, Lease: { } granted })
                {
                    granted.CancellationToken.Register(() => changes.Writer.TryWrite(new Ended(granted, $"lease ended: {granted.RevokedBecause}")));
                    changes.Writer.TryWrite(new Granted(granted));
                }
                else
                {
                    changes.Writer.TryWrite(new Ended(null, change.Reason));
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task ApplyAsync(Change change, CancellationToken token)
    {
        switch (change)
        {
            case Granted granted when phase is Phase.Standing or Phase.Acquiring or Phase.Committing && !granted.Lease.IsRevoked:
                await StartCommittingAsync(granted.Lease, token).ConfigureAwait(false);
                break;
            case Ended ended when ended.Lease is null || ReferenceEquals(lease, ended.Lease):
                await StopCommittingAsync(ended.Reason).ConfigureAwait(false);
                break;
            case Refused refused when phase is not (Phase.OutOfElection or Phase.HandedOver):
                await StopCommittingAsync("fenced off").ConfigureAwait(false);
                await StepOutAsync(FenceRefused(refused.Ours, refused.Current), token).ConfigureAwait(false);
                break;
            case StandAgain again when phase is not (Phase.OutOfElection or Phase.HandedOver):
                await StepOutAsync(again.After, token).ConfigureAwait(false);
                break;
            case Rejoin when phase == Phase.OutOfElection:
                phase = Phase.Standing;
                candidate!.Rejoin();
                break;
            case HandOver:
                await HandOverAsync(token).ConfigureAwait(false);
                break;
            case Reconnect reconnect when phase == Phase.Committing && ReferenceEquals(Current, reconnect.Grant):
                await endpoint.StopAsync(reconnect.Reason).ConfigureAwait(false);
                await WaitReadyAsync(endpoint.Connect(), token).ConfigureAwait(false);
                break;
            default:
                break; // stale: an end of a lease already replaced, a refusal while out of the election
        }
    }

    private async Task StartCommittingAsync(LeadershipLease granted, CancellationToken token)
    {
        await StopCommittingAsync("new lease").ConfigureAwait(false);
        var fence = ToFenceToken(granted.Token);

        // The endpoint connects while the fence is bumped (each takes tens of milliseconds of a handover); its deliveries wait
        // in the batcher until the fence has taken our token (WaitForGrantAsync), and go back to the queue if not. The bump
        // goes out first: building the endpoint takes the calling thread for a while before it returns. A refused bump:
        // FencingTests (Inventory) and the fault suite's PauseBeforeTransactionTests.
        phase = Phase.Acquiring;
        lease = granted;
        Interlocked.Exchange(ref pending, new TaskCompletionSource<CommitGrant?>(TaskCreationOptions.RunContinuationsAsynchronously))?.TrySetResult(null);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(granted.CancellationToken, token);
        var acquiring = committer.AcquireFenceRetryingAsync(fence, granted.NodeId, linked.Token);
        var ready = endpoint.Connect();
        var acquisition = await acquiring.ConfigureAwait(false);
        if (acquisition is null || granted.IsRevoked || token.IsCancellationRequested)
        {
            await StopCommittingAsync($"lease ended while acquiring the fence: {granted.RevokedBecause ?? "stopping"}").ConfigureAwait(false);
            return;
        }

        metrics.FenceAcquisition(acquisition.Acquired);
        if (!acquisition.Acquired)
        {
            await StopCommittingAsync("fence refused our token").ConfigureAwait(false);
            await StepOutAsync(FenceRefused(fence, acquisition.Current), token).ConfigureAwait(false);
            return;
        }

        if (fenceStatus.Acquired(fence))
        {
            logger.LogWarning("The fence took our token {Token}: commits flow again", fence);
        }

        Publish(new CommitGrant(fence, granted.NodeId, () => granted.RevokedBecause, granted.GrantedTimestamp, granted.CancellationToken));
        phase = Phase.Committing;
        logger.LogInformation("Committing as leader {NodeId} with token {Token}", granted.NodeId, fence);
        _ = RecordSuccessionAsync(granted, fence);
        await WaitReadyAsync(ready, token).ConfigureAwait(false);
    }

    /// <summary>Writes the succession to the shared election history once the candidate knows its cause; off the commit
    /// path (the grant is already out), and a failure costs only a history row, so it is logged, not retried.</summary>
    private async Task RecordSuccessionAsync(LeadershipLease granted, FenceToken fence)
    {
        try
        {
            using var bound = CancellationTokenSource.CreateLinkedTokenSource(granted.CancellationToken);
            bound.CancelAfter(TimeSpan.FromSeconds(10));
            var led = candidate is { } c ? await c.LedEntryAsync(granted.Token, bound.Token).ConfigureAwait(false) : null;
            await successions.RecordAsync(committerOptions.Resource, fence, granted.NodeId, led?.Detail ?? "unknown", led?.Previous, bound.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NpgsqlException or OperationCanceledException)
        {
            logger.LogWarning("The succession of {NodeId} with token {Token} was not written to the election history: {Reason}", granted.NodeId, fence, ex.Message);
        }
    }

    /// <summary>Waits a bounded time for a connected endpoint to consume: an endpoint that never gets ready (a broker away)
    /// must not hold up the changes after it; the watchdog reconnects it if it stays stalled.</summary>
    private async Task WaitReadyAsync(Task ready, CancellationToken token)
    {
        try
        {
            await ready.WaitAsync(pipelineOptions.Value.CommitStallLimit, token).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            logger.LogWarning("The commit endpoint is not consuming {Limit} after it was connected; going on", pipelineOptions.Value.CommitStallLimit);
        }
    }

    /// <summary>Graceful handover: no new commits, then our node goes so the successor is told at once.</summary>
    private async Task HandOverAsync(CancellationToken cancellationToken)
    {
        // The batch in its transaction (a few milliseconds) finishes; from then on nothing of ours reaches Postgres, so the
        // successor may lead while our endpoint still stops: its in-flight deliveries publish their decisions or are requeued,
        // which takes longer than the successor needs to take over (and the fence would refuse a straggler anyway).
        if (Current is { } grant)
        {
            Publish(null);
            try
            {
                await grant.CloseAsync().WaitAsync(pipelineOptions.Value.ShutdownTimeout, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
            {
                logger.LogWarning("The batch being committed did not finish in time; resigning anyway (the fence refuses it if it still runs)");
            }
        }

        phase = Phase.HandedOver;
        var resigning = ResignAsync(cancellationToken);
        await StopCommittingAsync("shutting down").ConfigureAwait(false);
        await resigning.ConfigureAwait(false);
    }

    /// <summary>Out of the election for <paramref name="delay"/>, then a <see cref="Rejoin"/> at the back of the line.</summary>
    private async Task StepOutAsync(TimeSpan delay, CancellationToken token)
    {
        if (phase is Phase.OutOfElection or Phase.HandedOver || candidate is null)
        {
            return;
        }

        await candidate.ResignAsync(token).ConfigureAwait(false);
        phase = Phase.OutOfElection;
        if (delay > TimeSpan.Zero)
        {
            logger.LogWarning("Out of the election for {Delay:0.0} s after {Refusals} fence refusals in a row", delay.TotalSeconds, fenceStatus.Current.ConsecutiveRefusals);
        }

        _ = Task.Delay(delay, token).ContinueWith(_ => changes.Writer.TryWrite(new Rejoin()), CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);
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

    /// <summary>Notes a refusal by the fence; logs it when it tells something new (not on every retry); the pause before we
    /// stand again.</summary>
    private TimeSpan FenceRefused(FenceToken ours, FenceToken fence)
    {
        var (delay, changed) = fenceStatus.Refused(ours, fence);
        if (changed && fenceStatus.Current.Reason is { } blocked)
        {
            logger.LogCritical("ALARM: {Reason} (our token {Token})", blocked, ours);
        }
        else if (changed)
        {
            logger.LogError("The fence refused our token {Token}: it has seen {Current}, a newer leader's; standing again behind it", ours, fence);
        }

        return delay;
    }

    /// <summary>The grant batches see from now on; ends a pending wait with it.</summary>
    private void Publish(CommitGrant? grant)
    {
        Volatile.Write(ref current, grant);
        Interlocked.Exchange(ref pending, null)?.TrySetResult(grant);
    }

    /// <summary>No commit starts after this; the endpoint's deliveries fail back to the queue.</summary>
    private async Task StopCommittingAsync(string reason)
    {
        Publish(null);
        lease = null;
        if (phase is Phase.Acquiring or Phase.Committing)
        {
            phase = Phase.Standing;
        }

        await endpoint.StopAsync(reason).ConfigureAwait(false);
    }

    /// <summary>What the loop applies, in order.</summary>
    private abstract record Change;

    /// <summary>The election made us leader with <paramref name="Lease"/>.</summary>
    private sealed record Granted(LeadershipLease Lease) : Change;

    /// <summary>Leadership ended: <paramref name="Lease"/>'s (null: whatever we hold; the election says we do not lead).</summary>
    private sealed record Ended(LeadershipLease? Lease, string Reason) : Change;

    /// <summary>The fence refused <paramref name="Ours"/>: it has seen <paramref name="Current"/>.</summary>
    private sealed record Refused(FenceToken Ours, FenceToken Current) : Change;

    /// <summary>Out of the election for a while after a failure, then back in.</summary>
    private sealed record StandAgain(TimeSpan After) : Change;

    /// <summary>Back into the election after a fence refusal's pause.</summary>
    private sealed record Rejoin : Change;

    /// <summary>The host is stopping: hand over now.</summary>
    private sealed record HandOver : Change;

    /// <summary>The endpoint receives nothing under <paramref name="Grant"/>: a new one.</summary>
    private sealed record Reconnect(CommitGrant Grant, string Reason) : Change;
}
