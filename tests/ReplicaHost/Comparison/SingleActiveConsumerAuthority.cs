using System.Diagnostics;
using MassTransit;
using Microsoft.Extensions.Options;
using Pipeline.Inventory.Commit;
using Pipeline.OrderService.Commit;
using Pipeline.OrderService.Configuration;
using Pipeline.OrderService.Messaging;

namespace Pipeline.ReplicaHost.Comparison;

/// <summary>
/// The failover benchmark's comparison peer (<c>Comparison:SingleActiveConsumer=true</c>): the usual alternative to an
/// election, an <see cref="ICommitAuthority"/> that lets RabbitMQ decide. Every replica consumes inventory-commit as a single
/// active consumer from the start and the broker delivers to one of them. RabbitMQ never tells a consumer that it became
/// active, nor that it stopped being active, so activation is inferred: a delivery on a channel or under a consumer tag not
/// seen before is a new activation (a consumer is activated at most once: RabbitMQ moves the activation on only when the
/// active consumer is cancelled or its channel closes, and a reconnect consumes on a new channel; the tag alone is not
/// enough, a reconnected consumer was seen to keep its tag).
/// <para>Token = (generation 0, sequence = Unix milliseconds when that first delivery arrived), strictly above the previous
/// activation's, so the fault suite's checker can read the peer's history like ours: a paused ex-consumer that commits its
/// batch in hand after its successor was activated writes ledger rows with a smaller token after larger ones. Each activation
/// is also recorded through <see cref="FencedCommitter.AcquireFenceAsync"/> (its "Fence ... acquired" log line). The grant is
/// never revoked (nothing would tell us), and the peer runs with <c>FaultInjection:ForgeFenceToken</c>: there is nothing to
/// check its tokens against, so nothing stops a paused ex-consumer. That is the weakness the benchmark shows.</para>
/// </summary>
internal sealed class SingleActiveConsumerAuthority(
    IBusControl bus,
    CommitEndpoint endpoint,
    FencedCommitter committer,
    IOptions<PipelineOptions> options,
    ILogger<SingleActiveConsumerAuthority> logger) : BackgroundService, ICommitAuthority
{
    private readonly SemaphoreSlim gate = new(1, 1);
    private readonly Lock sync = new();
    private string? consumerTag;
    private object? channel;
    private CommitGrant? current;

    public CommitGrant? Current => Volatile.Read(ref current);

    public ValueTask<CommitGrant?> WaitForGrantAsync(TimeSpan limit) => ValueTask.FromResult(Current);

    public void FencedOff(StaleLeaderException refusal) => logger.LogError("The fence refused the peer: {Reason}", refusal?.Message);

    public Task<LeadershipStatus> DescribeAsync(CancellationToken cancellationToken)
    {
        var grant = Current;
        return Task.FromResult(new LeadershipStatus("SingleActiveConsumer", null, grant is not null, grant?.Token, [], [], null));
    }

    /// <summary>Starts a new activation when the delivery's consumer tag or channel (compared by reference) is new.</summary>
    public async ValueTask AdmitAsync(ConsumeContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var tag = context.TryGetPayload<RabbitMqBasicConsumeContext>(out var basic) ? basic.ConsumerTag : "unknown";
        var on = context.TryGetPayload<MassTransit.RabbitMqTransport.ChannelContext>(out var channelContext) ? channelContext.Channel : null;
        if (IsCurrent(tag, on))
        {
            return;
        }

        await gate.WaitAsync(context.CancellationToken);
        try
        {
            if (IsCurrent(tag, on))
            {
                return;
            }

            var previous = Current?.Token.Sequence ?? 0;
            var token = new FenceToken(0, Math.Max(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), previous + 1));
            var nodeId = options.Value.NodeId;
            logger.LogWarning("SingleActiveConsumer {NodeId} activated with token {Token} (consumer {ConsumerTag}, channel {Channel})", nodeId, token, tag,
                on is RabbitMQ.Client.IChannel c ? c.ChannelNumber : -1);
            await committer.AcquireFenceAsync(token, nodeId, context.CancellationToken);
            lock (sync)
            {
                consumerTag = tag;
                channel = on;
            }

            Volatile.Write(ref current, new CommitGrant(token, nodeId, () => null, Stopwatch.GetTimestamp(), CancellationToken.None));
        }
        finally
        {
            gate.Release();
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await endpoint.StopAsync("shutting down");
        await base.StopAsync(cancellationToken);
    }

    public override void Dispose()
    {
        gate.Dispose();
        base.Dispose();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        logger.LogWarning("Comparison:SingleActiveConsumer: commits are UNFENCED (no election; RabbitMQ picks the consumer); a paused " +
                          "ex-consumer can commit after its successor. The failover benchmark's peer, never the product.");
        var health = await bus.WaitForHealthStatus(BusHealthStatus.Healthy, TimeSpan.FromMinutes(2));
        if (health != BusHealthStatus.Healthy)
        {
            throw new InvalidOperationException($"The message bus did not become healthy ({health}); not consuming the commit queue.");
        }

        await endpoint.Connect(cfg => ((IRabbitMqReceiveEndpointConfigurator)cfg).SingleActiveConsumer = true).WaitAsync(stoppingToken);
    }

    private bool IsCurrent(string tag, object? on)
    {
        lock (sync)
        {
            return consumerTag == tag && ReferenceEquals(channel, on);
        }
    }
}

/// <summary>Declares the commit queue with the single-active-consumer argument before the bus starts (commands sent before
/// any consumer is active wait there; the endpoint's own declaration must then match it).</summary>
internal sealed class SingleActiveConsumerQueue(IOptions<RabbitMqOptions> rabbit, IOptions<PipelineOptions> pipeline) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) =>
        Topology.DeclareCommitQueueAsync(rabbit.Value, pipeline.Value.QuorumQueues, cancellationToken, new Dictionary<string, object?> { ["x-single-active-consumer"] = true });

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
