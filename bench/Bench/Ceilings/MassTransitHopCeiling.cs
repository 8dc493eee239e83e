using System.Diagnostics;
using MassTransit;

namespace Pipeline.Bench.Ceilings;

/// <summary>A small message for the single-hop ceiling.</summary>
public sealed record BenchPing
{
    public required int Sequence { get; init; }

    public required string Payload { get; init; }
}

/// <summary>
/// MassTransit's single hop, as the product's messaging is configured: Publish of a small message with publisher confirms,
/// up to <c>window</c> unconfirmed, to one receive endpoint (prefetch <c>prefetch</c>) whose consumer does nothing.
/// Messages/s from the first publish to the last consume. Every order in the pipeline costs two such hops (OrderSubmitted,
/// the decision event) and a share of a third per intake batch (CommitInventoryBatch), which is why the pipeline is measured
/// against this.
/// </summary>
public static class MassTransitHopCeiling
{
    public static async Task<Throughput> MeasureAsync(BenchBroker broker, int count, int window, int prefetch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(broker);
        var consumed = 0;
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        // One queue for every run on a broker: each receive endpoint binds its queue to the message type's exchange, so a
        // queue per run would leave the earlier runs' queues bound and the broker copying every later message into them.
        const string queue = "bench-hop";
        var bus = await broker.StartBusAsync(cfg => cfg.ReceiveEndpoint(queue, e =>
        {
            e.PrefetchCount = prefetch;
            e.Handler<BenchPing>(_ =>
            {
                if (Interlocked.Increment(ref consumed) == count)
                {
                    done.TrySetResult();
                }

                return Task.CompletedTask;
            });
        }), cancellationToken);
        try
        {
            var payload = new string('x', 64);
            using var inFlight = new SemaphoreSlim(window);
            var clock = Stopwatch.StartNew();
            var publishes = new List<Task>(count);
            for (var i = 0; i < count; i++)
            {
                await inFlight.WaitAsync(cancellationToken);
                publishes.Add(PublishAsync(bus, new BenchPing { Sequence = i, Payload = payload }, inFlight, cancellationToken));
            }

            await Task.WhenAll(publishes);
            await done.Task.WaitAsync(TimeSpan.FromSeconds(120), cancellationToken);
            return new Throughput("MassTransit publish -> consume (single hop)", count, clock.Elapsed.TotalSeconds);
        }
        finally
        {
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await bus.StopAsync(stop.Token);
        }
    }

    private static async Task PublishAsync(IBus bus, BenchPing message, SemaphoreSlim inFlight, CancellationToken cancellationToken)
    {
        try
        {
            await bus.Publish(message, cancellationToken);
        }
        finally
        {
            inFlight.Release();
        }
    }
}
