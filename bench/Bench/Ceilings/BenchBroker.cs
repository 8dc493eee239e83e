using MassTransit;
using Pipeline.Testing;

namespace Pipeline.Bench.Ceilings;

/// <summary>
/// An isolated virtual host (the test fixture's, deleted on dispose) and MassTransit buses on it configured as the product
/// configures its own: durable, publisher confirms on.
/// </summary>
public sealed class BenchBroker : IAsyncDisposable
{
    private readonly RabbitMqVirtualHost virtualHost = new();

    private BenchBroker()
    {
    }

    public Uri AmqpUri => virtualHost.AmqpUri;

    public string Name => virtualHost.Name;

    /// <summary>Messages published into the virtual host so far, once the broker's statistics have caught up: the count
    /// read twice, <see cref="StatisticsInterval"/> apart, the same (it is refreshed every five seconds by default).</summary>
    public async Task<long> SettledPublishedAsync(CancellationToken cancellationToken)
    {
        var last = await virtualHost.PublishedAsync();
        for (var attempt = 0; attempt < 10; attempt++)
        {
            await Task.Delay(StatisticsInterval, cancellationToken);
            var now = await virtualHost.PublishedAsync();
            if (now == last)
            {
                return now;
            }

            last = now;
        }

        throw new TimeoutException($"the publish count of virtual host {Name} kept changing ({last})");
    }

    private static readonly TimeSpan StatisticsInterval = TimeSpan.FromSeconds(6);

    public static async Task<BenchBroker> CreateAsync()
    {
        var broker = new BenchBroker();
        await broker.virtualHost.InitializeAsync();
        return broker;
    }

    /// <summary>A started bus on this virtual host with publisher confirms (as OrderService and the storefront use them).</summary>
    public async Task<IBusControl> StartBusAsync(Action<IRabbitMqBusFactoryConfigurator>? configure, CancellationToken cancellationToken)
    {
        var uri = AmqpUri;
        var user = uri.UserInfo.Split(':', 2);
        var vhost = Uri.UnescapeDataString(uri.AbsolutePath.TrimStart('/'));
        var bus = Bus.Factory.CreateUsingRabbitMq(cfg =>
        {
            cfg.Host(uri.Host, (ushort)(uri.IsDefaultPort || uri.Port <= 0 ? 5672 : uri.Port), vhost, h =>
            {
                h.Username(Uri.UnescapeDataString(user[0]));
                h.Password(user.Length > 1 ? Uri.UnescapeDataString(user[1]) : "");
                h.PublisherConfirmation = true;
            });
            configure?.Invoke(cfg);
        });
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(TimeSpan.FromSeconds(60));
        await bus.StartAsync(limit.Token);
        return bus;
    }

    public async ValueTask DisposeAsync() => await virtualHost.DisposeAsync();
}
