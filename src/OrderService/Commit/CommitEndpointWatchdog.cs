using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Pipeline.OrderService.Configuration;
using Pipeline.OrderService.Messaging;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace Pipeline.OrderService.Commit;

/// <summary>
/// Reconnects the leader's commit endpoint when the broker holds commands for it and none reaches it. MassTransit's receive
/// transport can stay faulted after a broker restart without trying again (seen in this project's fault suite on a loaded
/// machine, and reported upstream), and a leader whose endpoint receives nothing keeps its lease while every order waits
/// for the re-drive. The broker's own count of ready messages is the independent check: commands waiting, none delivered
/// since the last look and none in hand (or none delivered for four limits), for <see cref="PipelineOptions.CommitStallLimit"/>,
/// mean a stalled endpoint.
/// While the broker cannot be asked, nothing is judged: MassTransit reconnects once it is back. Readiness reports a
/// reconnect that has not brought a delivery within the limit.
/// </summary>
public sealed class CommitEndpointWatchdog(
    FencedLeadership leadership,
    CommitEndpoint endpoint,
    IOptions<RabbitMqOptions> rabbitOptions,
    IOptions<PipelineOptions> pipelineOptions,
    ILogger<CommitEndpointWatchdog> logger) : BackgroundService, IHealthCheck
{
    private long reconnectedAt; // TickCount64 of the last reconnect still waiting for a delivery; 0: none

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var since = Volatile.Read(ref reconnectedAt);
        var limit = pipelineOptions.Value.CommitStallLimit;
        return Task.FromResult(since != 0 && endpoint.LastDeliveryTicks < since && Environment.TickCount64 - since > limit.TotalMilliseconds
            ? HealthCheckResult.Unhealthy($"the commit endpoint receives nothing although commands wait for it, {TimeSpan.FromMilliseconds(Environment.TickCount64 - since).TotalSeconds:0} s after it was reconnected")
            : HealthCheckResult.Healthy());
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var limit = pipelineOptions.Value.CommitStallLimit;
        using var timer = new PeriodicTimer(limit / 3);
        var probe = new QueueProbe(rabbitOptions.Value);
        try
        {
            CommitGrant? watched = null;
            long lastLook = 0; // when the last look under `watched` was taken
            long stalledSince = 0;
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                if (leadership.Current is not { } grant || !endpoint.IsConnected || !ReferenceEquals(grant, watched))
                {
                    (watched, lastLook, stalledSince) = (leadership.Current, 0, 0);
                    Volatile.Write(ref reconnectedAt, 0);
                    continue;
                }

                var now = Environment.TickCount64;
                var waiting = await probe.ReadyMessagesAsync(stoppingToken).ConfigureAwait(false);
                // Deliveries in hand explain a pause (a batch in a slow transaction), but not one of four limits (a hung publish).
                var stalled = waiting > 0 && lastLook != 0 && endpoint.LastDeliveryTicks < lastLook
                    && (endpoint.InHand == 0 || now - endpoint.LastDeliveryTicks > 4 * limit.TotalMilliseconds);
                stalledSince = stalled ? (stalledSince == 0 ? lastLook : stalledSince) : 0;
                lastLook = waiting is null ? 0 : now;
                if (endpoint.LastDeliveryTicks >= Volatile.Read(ref reconnectedAt))
                {
                    Volatile.Write(ref reconnectedAt, 0);
                }

                if (stalledSince != 0 && now - stalledSince >= limit.TotalMilliseconds)
                {
                    logger.LogError("{Waiting} commands wait in {Queue} and none reached this leader's commit endpoint for {Seconds:0} s: reconnecting it",
                        waiting, Topology.CommitQueue, (now - stalledSince) / 1000.0);
                    Volatile.Write(ref reconnectedAt, now);
                    leadership.ReconnectEndpoint(grant, "no delivery while commands wait");
                    (lastLook, stalledSince) = (0, 0);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            await probe.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>One connection of its own to ask the broker how many messages wait in the commit queue.</summary>
    private sealed class QueueProbe(RabbitMqOptions rabbit) : IAsyncDisposable
    {
        private IConnection? connection;
        private IChannel? channel;

        /// <summary>Ready messages in the commit queue; null when the broker cannot be asked now.</summary>
        public async Task<uint?> ReadyMessagesAsync(CancellationToken cancellationToken)
        {
            try
            {
                if (channel is not { IsOpen: true })
                {
                    await DisposeAsync().ConfigureAwait(false);
                    connection = await RabbitMqConnection.Factory(rabbit, "pipeline-commit-watchdog").CreateConnectionAsync(cancellationToken).ConfigureAwait(false);
                    channel = await connection.CreateChannelAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
                }

                return (await channel.QueueDeclarePassiveAsync(Topology.CommitQueue, cancellationToken).ConfigureAwait(false)).MessageCount;
            }
            catch (Exception ex) when (ex is RabbitMQClientException or IOException or ObjectDisposedException or TimeoutException)
            {
                await DisposeAsync().ConfigureAwait(false);
                return null;
            }
        }

        public async ValueTask DisposeAsync()
        {
            var (open, opened) = (channel, connection);
            (channel, connection) = (null, null);
            try
            {
                if (open is not null)
                {
                    await open.DisposeAsync().ConfigureAwait(false);
                }

                if (opened is not null)
                {
                    await opened.DisposeAsync().ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (ex is RabbitMQClientException or IOException or ObjectDisposedException)
            {
                // a connection already gone
            }
        }
    }
}
