using MassTransit;
using Pipeline.Contracts;

namespace Pipeline.Testing;

/// <summary>
/// A storefront and an observer in one in-process MassTransit bus on the test virtual host: publishes OrderSubmitted
/// (durable, publisher-confirmed, as the CLI's <c>publish</c> does; a publish the broker did not confirm is retried, as a
/// storefront would) and records every OrderConfirmed and OrderRejected, and apart from them every OrderIdConflict, from a
/// durable queue bound before anything is published.
/// </summary>
public sealed class OrderBus : IAsyncDisposable
{
    private static readonly TimeSpan RepublishFor = TimeSpan.FromSeconds(90);
    private readonly IBusControl bus;
    private long republished;

    private OrderBus(IBusControl bus, EventRecorder events)
    {
        this.bus = bus;
        Events = events;
    }

    public EventRecorder Events { get; }

    /// <summary>Publishes the broker did not confirm and that were sent again.</summary>
    public long Republished => Interlocked.Read(ref republished);

    public static async Task<OrderBus> StartAsync(Uri amqp)
    {
        ArgumentNullException.ThrowIfNull(amqp);
        var events = new EventRecorder();

        // A log context of its own: one left in this async flow by a replica hosted in the test process may hold that
        // replica's logger factory, disposed once it stopped.
        LogContext.ConfigureCurrentLogContext(Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance);
        var user = amqp.UserInfo.Split(':', 2);
        var vhost = Uri.UnescapeDataString(amqp.AbsolutePath.TrimStart('/'));
        var bus = Bus.Factory.CreateUsingRabbitMq(cfg =>
        {
            cfg.Host(amqp.Host, (ushort)amqp.Port, vhost.Length == 0 ? "/" : vhost, h =>
            {
                h.Username(Uri.UnescapeDataString(user[0]));
                h.Password(user.Length > 1 ? Uri.UnescapeDataString(user[1]) : "");
                h.PublisherConfirmation = true;
            });
            // A durable queue, not a temporary one: it and its bindings survive a broker restart (fault 6), so no decision
            // event published while the storefront reconnects is dropped for want of a bound queue.
            cfg.ReceiveEndpoint($"storefront-events-{Guid.NewGuid():N}", e =>
            {
                e.Durable = true;
                e.AutoDelete = false;
                e.Handler<OrderConfirmed>(c => events.Add(c.Message.OrderId, c.Message));
                e.Handler<OrderRejected>(c => events.Add(c.Message.OrderId, c.Message));
                e.Handler<OrderIdConflict>(c => events.AddConflict(c.Message));
            });
        });
        using var start = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await bus.StartAsync(start.Token);
        await Eventually.TrueAsync(() => Task.FromResult(bus.CheckHealth().Status == BusHealthStatus.Healthy), TimeSpan.FromSeconds(60), "the test bus to be healthy");
        return new OrderBus(bus, events);
    }

    public Task PublishAsync(OrderSubmitted order, Guid? messageId = null) =>
        bus.Publish(order, context =>
        {
            if (messageId is { } id)
            {
                context.MessageId = id;
            }
        });

    /// <summary>Publishes every order, <paramref name="parallelism"/> unconfirmed at a time; with a rate, paced to it.</summary>
    public async Task PublishAllAsync(IEnumerable<OrderSubmitted> orders, int parallelism = 64, double perSecond = 0, CancellationToken cancellationToken = default)
    {
        using var inFlight = new SemaphoreSlim(parallelism);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var tasks = new List<Task>();
        var i = 0;
        foreach (var order in orders)
        {
            if (perSecond > 0 && TimeSpan.FromSeconds(i / perSecond) - clock.Elapsed is { Ticks: > 0 } due)
            {
                await Task.Delay(due, cancellationToken);
            }

            i++;
            await inFlight.WaitAsync(cancellationToken);
            tasks.Add(PublishReleasingAsync(order, inFlight));
        }

        await Task.WhenAll(tasks);
    }

    public async ValueTask DisposeAsync()
    {
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await bus.StopAsync(stop.Token);
    }

    private async Task PublishReleasingAsync(OrderSubmitted order, SemaphoreSlim inFlight)
    {
        try
        {
            // Unconfirmed (the broker restarting, the connection lost): publish again until confirmed. A duplicate is
            // harmless, intake is idempotent by order id and content. Bounded, so a broker that never returns fails the run.
            var clock = System.Diagnostics.Stopwatch.StartNew();
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                    await bus.Publish(order, timeout.Token);
                    return;
                }
                catch (Exception ex) when (ex is not OutOfMemoryException && clock.Elapsed < RepublishFor)
                {
                    Interlocked.Increment(ref republished);
                    await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(1000, 50 * attempt)));
                }
            }
        }
        finally
        {
            inFlight.Release();
        }
    }
}
