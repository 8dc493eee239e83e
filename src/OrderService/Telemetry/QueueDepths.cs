using System.Diagnostics.Metrics;
using Microsoft.Extensions.Options;
using Pipeline.OrderService.Configuration;
using Pipeline.OrderService.Messaging;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace Pipeline.OrderService.Telemetry;

/// <summary>One queue as the broker last reported it; <see cref="Exists"/> false when the broker does not know it.</summary>
public sealed record QueueDepth(string Queue, long Messages, long Consumers, bool Exists);

/// <summary>The depths of the pipeline's queues (intake, commit and their error queues), read every
/// <see cref="Interval"/> with passive declarations on one connection of its own, for the gauges
/// <c>pipeline.queue.messages</c> and <c>pipeline.queue.consumers</c> and the dashboard.</summary>
/// <remarks>Every replica reads the same queues, so each one's dashboard and metrics show the whole pipeline. A broker
/// that cannot be reached leaves the last reading in place with <see cref="Error"/> set and the gauges silent (a stale
/// depth exported as current would hide an outage); the connection is made again on the next read.</remarks>
public sealed class QueueDepths : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(2);

    public static IReadOnlyList<string> Queues { get; } =
        [Topology.IntakeQueue, Topology.CommitQueue, Topology.IntakeQueue + "_error", Topology.CommitQueue + "_error"];

    private readonly RabbitMqOptions rabbit;
    private readonly ILogger<QueueDepths> logger;
    private readonly Meter meter = new(PipelineMetrics.MeterName);
    private IConnection? connection;
    private volatile Snapshot current = new([], null, null);

    public QueueDepths(IOptions<RabbitMqOptions> rabbit, ILogger<QueueDepths> logger)
    {
        ArgumentNullException.ThrowIfNull(rabbit);
        this.rabbit = rabbit.Value;
        this.logger = logger;
        meter.CreateObservableGauge("pipeline.queue.messages", () => Measure(q => q.Messages), "{message}", "Messages ready in each pipeline queue, as the broker last reported");
        meter.CreateObservableGauge("pipeline.queue.consumers", () => Measure(q => q.Consumers), "{consumer}", "Consumers of each pipeline queue, as the broker last reported");
    }

    /// <summary>The last reading: the queues, when it was taken, and the error of the last attempt if it failed.</summary>
    public sealed record Snapshot(IReadOnlyList<QueueDepth> Queues, DateTimeOffset? At, string? Error);

    public Snapshot Current => current;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval);
        do
        {
            try
            {
                current = new Snapshot(await ReadAsync(stoppingToken), DateTimeOffset.UtcNow, null);
            }
            catch (Exception ex) when (ex is BrokerUnreachableException or OperationInterruptedException or AlreadyClosedException or IOException or TimeoutException
                                           || (ex is OperationCanceledException && !stoppingToken.IsCancellationRequested))
            {
                logger.LogDebug(ex, "Reading the queue depths from {Host}:{Port} failed", rabbit.Host, rabbit.Port);
                current = current with { Error = $"broker {rabbit.Host}:{rabbit.Port}: {ex.Message}" };
                await DropConnectionAsync();
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }

    private async Task<IReadOnlyList<QueueDepth>> ReadAsync(CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(5));
        connection ??= await RabbitMqConnection.Factory(rabbit, "pipeline-queue-depths").CreateConnectionAsync(timeout.Token).ConfigureAwait(false);
        return await ReadAsync(connection, timeout.Token).ConfigureAwait(false);
    }

    /// <summary>The pipeline's queues as the broker reports them now, on <paramref name="connection"/> (also the <c>status</c> verb's).</summary>
    public static async Task<IReadOnlyList<QueueDepth>> ReadAsync(IConnection connection, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var depths = new List<QueueDepth>(Queues.Count);
        foreach (var queue in Queues)
        {
            // A passive declaration of an absent queue closes its channel: one channel per queue keeps the others readable.
            await using var channel = await connection.CreateChannelAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
            try
            {
                var ok = await channel.QueueDeclarePassiveAsync(queue, cancellationToken).ConfigureAwait(false);
                depths.Add(new QueueDepth(queue, ok.MessageCount, ok.ConsumerCount, true));
            }
            catch (OperationInterruptedException ex) when (ex.ShutdownReason?.ReplyCode == 404)
            {
                depths.Add(new QueueDepth(queue, 0, 0, false));
            }
        }

        return depths;
    }

    private IEnumerable<Measurement<long>> Measure(Func<QueueDepth, long> value)
    {
        var snapshot = current;
        return snapshot.Error is not null
            ? []
            : snapshot.Queues.Where(q => q.Exists).Select(q => new Measurement<long>(value(q), new KeyValuePair<string, object?>("queue", q.Queue)));
    }

    private async Task DropConnectionAsync()
    {
        if (Interlocked.Exchange(ref connection, null) is { } dropped)
        {
            try
            {
                await dropped.DisposeAsync();
            }
            catch (Exception ex) when (ex is IOException or AlreadyClosedException or OperationInterruptedException)
            {
                logger.LogDebug(ex, "Closing the queue-depth connection failed");
            }
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        await DropConnectionAsync();
    }

    public override void Dispose()
    {
        meter.Dispose();
        connection?.Dispose();
        base.Dispose();
        GC.SuppressFinalize(this);
    }
}
