using System.Globalization;
using MassTransit;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Pipeline.Testing;

namespace Pipeline.OrderService.Tests;

/// <summary>A database, RabbitMQ virtual host and ZooKeeper chroot of a test's own, and the product's replicas
/// (<see cref="ServiceHost.Build(string[])"/>) in this test process on them: for tests that reach into a replica's services
/// (its bus, its leadership).</summary>
internal sealed class InProcessReplicas(InventoryDatabaseFixture database) : IAsyncLifetime
{
    public InProcessReplicas()
        : this(new InventoryDatabaseFixture())
    {
    }

    public InventoryDatabaseFixture Database { get; } = database;

    public RabbitMqVirtualHost VirtualHost { get; } = new();

    public ZooKeeperChroot Chroot { get; } = new();

    public Task InitializeAsync() => Task.WhenAll(Database.InitializeAsync(), VirtualHost.InitializeAsync(), Chroot.InitializeAsync());

    public async Task DisposeAsync()
    {
        await Chroot.DisposeAsync();
        await VirtualHost.DisposeAsync();
        await Database.DisposeAsync();
    }

    /// <summary>Builds (not starts) a replica named <paramref name="nodeId"/>; <paramref name="settings"/> ("Pipeline:X" = value)
    /// come on top of the cluster settings every test replica gets; <paramref name="services"/> changes its services after
    /// the product's (an exporter of the test's own, say).</summary>
    public WebApplication Build(string nodeId, IReadOnlyDictionary<string, string>? settings = null, RecordedLog? log = null, Action<IServiceCollection>? services = null)
    {
        // MassTransit keeps its log context in an AsyncLocal that an earlier replica of this test left behind, with that
        // replica's (disposed) logger factory: the new replica's bus must make its own.
        LogContext.Current = null!;
        var options = ReplicaClusterOptions.For(Database, VirtualHost, Chroot);
        options.ExtraEnvironment["Pipeline__NodeId"] = nodeId;
        options.ExtraEnvironment["Pipeline__HttpPort"] = FreePorts.Take(1)[0].ToString(CultureInfo.InvariantCulture);
        string[] args =
        [
            .. ReplicaCluster.ServiceEnvironment(options)
                .Where(kv => kv.Value is not null && kv.Key.Contains("__", StringComparison.Ordinal))
                .Select(kv => $"--{kv.Key.Replace("__", ":", StringComparison.Ordinal)}={kv.Value}"),
            .. (settings ?? new Dictionary<string, string>()).Select(kv => $"--{kv.Key}={kv.Value}"),
        ];
        return ServiceHost.Build(args, replicaHost: log is null && services is null ? null : (collection, _) =>
        {
            if (log is not null)
            {
                collection.AddSingleton<ILoggerProvider>(log);
            }

            services?.Invoke(collection);
        });
    }
}

/// <summary>Starting an in-process replica.</summary>
internal static class InProcessReplica
{
    /// <summary>Starts the replica and waits until its bus is healthy: a replica stopped while its bus still starts would
    /// leave that bus running on after the host is gone (MassTransit starts it in the background).</summary>
    public static async Task StartReadyAsync(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        await app.StartAsync();
        var bus = app.Services.GetRequiredService<IBusControl>();
        var health = await bus.WaitForHealthStatus(BusHealthStatus.Healthy, TimeSpan.FromSeconds(60));
        Assert.True(health == BusHealthStatus.Healthy, $"the in-process replica's bus is {health} after 60 s");
    }
}

/// <summary>Every log line of an in-process replica, to look for the ones a test expects.</summary>
internal sealed class RecordedLog : ILoggerProvider
{
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> lines = new();

    public bool Contains(string text) => lines.Any(l => l.Contains(text, StringComparison.Ordinal));

    /// <summary>Every line logged so far, in order.</summary>
    public IReadOnlyCollection<string> Lines => lines;

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(RecordedLog log, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            log.lines.Enqueue($"{logLevel} {category} {formatter(state, exception)}");
    }
}
