using System.Collections.Concurrent;
using MassTransit;
using Microsoft.Extensions.Options;
using Pipeline.OrderService.Configuration;
using Pipeline.OrderService.Messaging;
using RabbitMQ.Client;

namespace Pipeline.OrderService.Commit;

/// <summary>
/// The inventory-commit receive endpoint, connected while this replica may commit and stopped when it may not. A stop is
/// bounded: an endpoint that has not stopped within <see cref="PipelineOptions.CommitEndpointStopTimeout"/> is torn down by
/// closing the RabbitMQ channels its deliveries arrived on, so the broker returns every unacknowledged delivery to the
/// queue at once, for the next leader, instead of leaving them with a replica that cannot commit until its process ends.
/// </summary>
public sealed class CommitEndpoint(IReceiveEndpointConnector connector, IOptions<PipelineOptions> options, ILogger<CommitEndpoint> logger)
{
    private readonly ConcurrentDictionary<IChannel, byte> channels = new();
    private HostReceiveEndpointHandle? handle;
    private long lastDelivery; // Environment.TickCount64 of the last delivery
    private int inHand; // deliveries received and not yet settled

    public bool IsConnected => Volatile.Read(ref handle) is not null;

    /// <summary>When the last delivery arrived (<see cref="Environment.TickCount64"/>; 0: none yet).</summary>
    public long LastDeliveryTicks => Volatile.Read(ref lastDelivery);

    /// <summary>Deliveries received and not yet settled (decided, failed or requeued).</summary>
    public int InHand => Volatile.Read(ref inHand);

    /// <summary>Connects the endpoint (stopping none: the caller stops first); the task completes once it consumes.</summary>
    /// <param name="configure">More configuration after the product's (the comparison peer's single active consumer).</param>
    public Task Connect(Action<IReceiveEndpointConfigurator>? configure = null)
    {
        var pipeline = options.Value;
        var connected = connector.ConnectReceiveEndpoint(Topology.CommitQueue, (context, cfg) =>
        {
            MessagingSetup.ConfigureCommitEndpoint(context, cfg, pipeline);
            configure?.Invoke(cfg);
        });
        Volatile.Write(ref handle, connected);
        return connected.Ready;
    }

    /// <summary>Notes a commit delivery (its channel, for a teardown; its arrival, for <see cref="CommitEndpointWatchdog"/>);
    /// <see cref="Settled"/> follows once it is done with.</summary>
    public void Received(ConsumeContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        Volatile.Write(ref lastDelivery, Environment.TickCount64);
        Interlocked.Increment(ref inHand);
        if (context.TryGetPayload<MassTransit.RabbitMqTransport.ChannelContext>(out var channel) && !channels.ContainsKey(channel.Channel))
        {
            channels.TryAdd(channel.Channel, 0);
        }
    }

    /// <summary>A delivery noted by <see cref="Received"/> is done with.</summary>
    public void Settled() => Interlocked.Decrement(ref inHand);

    /// <summary>Stops the endpoint, if connected: its deliveries fail back to the queue. Torn down past the limit.</summary>
    public async Task StopAsync(string reason)
    {
        var stopped = Interlocked.Exchange(ref handle, null);
        if (stopped is null)
        {
            return;
        }

        logger.LogWarning("Stopping the commit endpoint: {Reason}", reason);
        var limit = options.Value.CommitEndpointStopTimeout;
        using var timeout = new CancellationTokenSource(limit);
        var stopping = stopped.StopAsync(timeout.Token);

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
        await CloseChannelsAsync($"commit endpoint torn down: {reason}").ConfigureAwait(false);
    }

    /// <summary>Closes (aborts) every channel noted since the last call.</summary>
    private async Task CloseChannelsAsync(string reason)
    {
        foreach (var channel in channels.Keys)
        {
            channels.TryRemove(channel, out _);
            if (channel.IsClosed)
            {
                continue;
            }

            try
            {
                await channel.CloseAsync(Constants.ReplySuccess, reason, abort: true).ConfigureAwait(false);
                logger.LogWarning("Closed commit channel {Channel}: {Reason}", channel.ChannelNumber, reason);
            }
            catch (Exception ex) when (ex is RabbitMQ.Client.Exceptions.RabbitMQClientException or IOException or ObjectDisposedException)
            {
                logger.LogWarning("Could not close commit channel {Channel} ({Error}); the broker requeues its deliveries when its connection ends", channel.ChannelNumber, ex.Message);
            }
        }
    }
}
