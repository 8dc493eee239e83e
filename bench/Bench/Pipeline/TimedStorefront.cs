using System.Collections.Concurrent;
using System.Diagnostics;
using MassTransit;
using Pipeline.Bench.Ceilings;
using Pipeline.Contracts;

namespace Pipeline.Bench.Pipeline;

/// <summary>
/// The storefront of the pipeline scenario: publishes OrderSubmitted with publisher confirms (as OrderBus and the CLI do)
/// and takes the time each order's first decision event (OrderConfirmed or OrderRejected) arrives, from a queue bound
/// before anything is published. Times are <see cref="Stopwatch.GetTimestamp"/> ticks; a redelivered event keeps the first.
/// </summary>
public sealed class TimedStorefront : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, long> decided = new(StringComparer.Ordinal);
    private IBusControl? bus;

    public int DecidedCount => decided.Count;

    public long? DecidedAt(string orderId) => decided.TryGetValue(orderId, out var at) ? at : null;

    public static async Task<TimedStorefront> StartAsync(BenchBroker broker, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(broker);
        var storefront = new TimedStorefront();
        storefront.bus = await broker.StartBusAsync(cfg => cfg.ReceiveEndpoint("bench-storefront-events", e =>
        {
            e.PrefetchCount = 1000;
            e.Handler<OrderConfirmed>(c => storefront.Record(c.Message.OrderId));
            e.Handler<OrderRejected>(c => storefront.Record(c.Message.OrderId));
        }), cancellationToken);
        return storefront;
    }

    /// <summary>Publishes every order with at most <paramref name="window"/> unconfirmed; returns when all are confirmed.</summary>
    public async Task PublishAllAsync(IEnumerable<OrderSubmitted> orders, int window, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(orders);
        using var inFlight = new SemaphoreSlim(window);
        var publishes = new List<Task>();
        foreach (var order in orders)
        {
            await inFlight.WaitAsync(cancellationToken);
            publishes.Add(PublishReleasingAsync(order, inFlight, cancellationToken));
        }

        await Task.WhenAll(publishes);
    }

    /// <summary>
    /// Publishes order i at <paramref name="start"/> + i / <paramref name="perSecond"/> (an open-loop offered rate: a slow
    /// pipeline does not slow the storefront down), and returns those intended send times as timestamps.
    /// </summary>
    public async Task<long[]> PublishPacedAsync(IReadOnlyList<OrderSubmitted> orders, double perSecond, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(orders);
        var intended = new long[orders.Count];
        var publishes = new List<Task>(orders.Count);
        var start = Stopwatch.GetTimestamp();
        var next = 0;
        while (next < orders.Count)
        {
            var due = Math.Min(orders.Count, (int)(Stopwatch.GetElapsedTime(start).TotalSeconds * perSecond) + 1);
            for (; next < due; next++)
            {
                intended[next] = start + (long)(next / perSecond * Stopwatch.Frequency);
                publishes.Add(bus!.Publish(orders[next], cancellationToken));
            }

            await Task.Delay(1, cancellationToken);
        }

        await Task.WhenAll(publishes);
        return intended;
    }

    /// <summary>Waits until <paramref name="total"/> distinct orders have a decision. Fails after <paramref name="timeout"/>,
    /// or sooner when no new decision came for <paramref name="stall"/>: a stuck pipeline ends the run with what it knows
    /// (<paramref name="diagnostics"/>) instead of at the liveness guard.</summary>
    public async Task WaitDecidedAsync(int total, TimeSpan timeout, TimeSpan stall, Func<string> diagnostics, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(diagnostics);
        var clock = Stopwatch.StartNew();
        var (seen, progressAt) = (decided.Count, clock.Elapsed);
        while (decided.Count < total)
        {
            if (decided.Count != seen)
            {
                (seen, progressAt) = (decided.Count, clock.Elapsed);
            }

            if (clock.Elapsed > timeout || clock.Elapsed - progressAt > stall)
            {
                throw new TimeoutException($"only {decided.Count} of {total} orders decided after {clock.Elapsed.TotalSeconds:0} s " +
                    $"(none for {(clock.Elapsed - progressAt).TotalSeconds:0} s); {diagnostics()}");
            }

            await Task.Delay(10, cancellationToken);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (bus is not null)
        {
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await bus.StopAsync(stop.Token);
        }
    }

    private Task Record(string orderId)
    {
        decided.TryAdd(orderId, Stopwatch.GetTimestamp());
        return Task.CompletedTask;
    }

    private async Task PublishReleasingAsync(OrderSubmitted order, SemaphoreSlim inFlight, CancellationToken cancellationToken)
    {
        try
        {
            await bus!.Publish(order, cancellationToken);
        }
        finally
        {
            inFlight.Release();
        }
    }
}
