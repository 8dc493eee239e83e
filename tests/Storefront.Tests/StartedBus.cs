using MassTransit;
using Pipeline.Testing;

namespace Pipeline.Storefront.Tests;

/// <summary>A MassTransit bus on RabbitMQ, started and healthy, as a user of the test's choosing; stopped when disposed.</summary>
internal sealed class StartedBus(IBusControl bus) : IAsyncDisposable
{
    private static readonly TimeSpan StopWait = TimeSpan.FromSeconds(15);

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
            await StopAsync(bus);
            throw new InvalidOperationException($"the bus of {User(amqp)} did not start: {health.Status} {health.Description}", ex);
        }
    }

    /// <summary>Starts a bus that must not start: returns the first fault of one of its receive endpoints (the broker refused
    /// it; MassTransit then keeps retrying) as soon as it is reported, then stops the bus; times out when no endpoint faults
    /// within <paramref name="wait"/>.</summary>
    public static async Task<Exception> StartFaultedAsync(Uri amqp, TimeSpan wait, Action<IRabbitMqBusFactoryConfigurator> configure)
    {
        var bus = Create(amqp, configure);
        var observer = new FirstFault();
        using var observing = bus.ConnectReceiveEndpointObserver(observer);
        using var start = new CancellationTokenSource(wait);
        var starting = bus.StartAsync(start.Token);
        try
        {
            try
            {
                return await observer.Fault.WaitAsync(wait);
            }
            catch (TimeoutException ex)
            {
                var health = bus.CheckHealth().Description;
                throw new TimeoutException($"no receive endpoint of {User(amqp)} faulted within {wait.TotalSeconds} s; bus health: {health}", ex);
            }
        }
        finally
        {
            await start.CancelAsync();
            try
            {
                await starting.WaitAsync(StopWait);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                // The start fails, is cancelled or does not return: that is what this bus is for.
            }

            try
            {
                await StopAsync(bus);
            }
            catch (TimeoutException)
            {
                // MassTransit's stop of a start cancelled while an endpoint faults can hang (seen once in a hang dump: the
                // start's own StopAsync never returned). The endpoint's fault is proven; the bus is abandoned, and deleting the
                // test's user and virtual host closes its connections.
            }
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

    public async ValueTask DisposeAsync() => await StopAsync(bus);

    /// <summary>Stops <paramref name="bus"/> within <see cref="StopWait"/>: a bus the broker refused can retry without end,
    /// and a test must not hang on it.</summary>
    private static async Task StopAsync(IBusControl bus)
    {
        using var stop = new CancellationTokenSource(StopWait);
        try
        {
            // The token asks the bus to give up; WaitAsync bounds the wait when it does not.
            await bus.StopAsync(stop.Token).WaitAsync(StopWait + StopWait);
        }
        catch (Exception ex) when (ex is TimeoutException || (ex is OperationCanceledException && stop.IsCancellationRequested))
        {
            throw new TimeoutException($"the test's bus did not stop within {StopWait.TotalSeconds} s");
        }
    }

    /// <summary>Completes with the first fault any receive endpoint reports.</summary>
    private sealed class FirstFault : IReceiveEndpointObserver
    {
        private readonly TaskCompletionSource<Exception> fault = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task<Exception> Fault => fault.Task;

        public Task Ready(ReceiveEndpointReady ready) => Task.CompletedTask;

        public Task Stopping(ReceiveEndpointStopping stopping) => Task.CompletedTask;

        public Task Completed(ReceiveEndpointCompleted completed) => Task.CompletedTask;

        public Task Faulted(ReceiveEndpointFaulted faulted)
        {
            fault.TrySetResult(faulted.Exception ?? new InvalidOperationException("a receive endpoint faulted without an exception"));
            return Task.CompletedTask;
        }
    }
}
