using MassTransit;
using Pipeline.Testing;

namespace Pipeline.Storefront.Tests;

/// <summary>A MassTransit bus on RabbitMQ, started and healthy, as a user of the test's choosing; stopped when disposed.</summary>
internal sealed class StartedBus(IBusControl bus) : IAsyncDisposable
{
    public IBus Bus => bus;

    /// <summary>Starts a bus as the user of <paramref name="amqp"/> (publisher confirms on, as the sample has them) and waits
    /// until every endpoint is healthy; throws <see cref="InvalidOperationException"/> with the bus's health when it cannot.</summary>
    public static async Task<StartedBus> StartAsync(Uri amqp, TimeSpan wait, Action<IRabbitMqBusFactoryConfigurator> configure)
    {
        var bus = Create(amqp, configure);
        try
        {
            using var start = new CancellationTokenSource(wait);
            await bus.StartAsync(start.Token);
            await Eventually.TrueAsync(() => Task.FromResult(bus.CheckHealth().Status == BusHealthStatus.Healthy), wait, $"the bus of {User(amqp)} to be healthy");
            return new StartedBus(bus);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            var health = bus.CheckHealth();
            await bus.StopAsync(CancellationToken.None);
            throw new InvalidOperationException($"the bus of {User(amqp)} did not start: {health.Status} {health.Description}", ex);
        }
    }

    /// <summary>Starts a bus that must not start: returns the bus's health description as soon as one of its receive endpoints
    /// has faulted (the broker refused it), then stops the bus; times out when no endpoint faults within <paramref name="wait"/>.</summary>
    public static async Task<string> StartFaultedAsync(Uri amqp, TimeSpan wait, Action<IRabbitMqBusFactoryConfigurator> configure)
    {
        var bus = Create(amqp, configure);
        using var start = new CancellationTokenSource(wait);
        var starting = bus.StartAsync(start.Token);
        try
        {
            return await Eventually.GetAsync(
                () => Task.FromResult(bus.CheckHealth() is var health && health.Endpoints.Values.Any(e => e.Description?.Contains("faulted", StringComparison.Ordinal) == true) ? health.Description : null),
                wait, $"a receive endpoint of {User(amqp)} to fault");
        }
        finally
        {
            await start.CancelAsync();
            try
            {
                await starting;
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                // The start fails or is cancelled: that is what this bus is for.
            }

            await bus.StopAsync(CancellationToken.None);
        }
    }

    private static IBusControl Create(Uri amqp, Action<IRabbitMqBusFactoryConfigurator> configure)
    {
        var user = amqp.UserInfo.Split(':', 2);

        // A Bus.Factory bus has no DisableUsageTelemetry(): MassTransit reads this variable instead, and nothing may phone home.
        Environment.SetEnvironmentVariable("MASSTRANSIT_USAGE_TELEMETRY", "false");
        return MassTransit.Bus.Factory.CreateUsingRabbitMq(cfg =>
        {
            cfg.Host(amqp.Host, (ushort)amqp.Port, Uri.UnescapeDataString(amqp.AbsolutePath.TrimStart('/')), h =>
            {
                h.Username(Uri.UnescapeDataString(user[0]));
                h.Password(Uri.UnescapeDataString(user[1]));
                h.PublisherConfirmation = true;
            });
            configure(cfg);
        });
    }

    private static string User(Uri amqp) => Uri.UnescapeDataString(amqp.UserInfo.Split(':', 2)[0]);

    public async ValueTask DisposeAsync() => await bus.StopAsync(CancellationToken.None);
}
