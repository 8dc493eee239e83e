using MassTransit;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;
using Pipeline.Inventory.Commit;
using Pipeline.Inventory.Intake;
using Pipeline.Inventory.Status;
using Pipeline.OrderService.Commit;
using Pipeline.OrderService.Configuration;
using Pipeline.OrderService.Dashboard;
using Pipeline.OrderService.Http;
using Pipeline.OrderService.Messaging;
using Pipeline.OrderService.Telemetry;
using Pipeline.ZooKeeper.Recipes;

namespace Pipeline.OrderService;

/// <summary>The <c>run</c> verb: the replica as a web host (health, status, metrics) around the bus and the commit authority.</summary>
public static class ServiceHost
{
    /// <summary>Configuration sections only the test and benchmark replica host reads; the product refuses to start with them.</summary>
    private static readonly string[] ReplicaHostSections = ["FaultInjection", "Comparison"];

    public static WebApplication Build(string[] args) => Build(args, replicaHost: null);

    /// <summary>The replica; <paramref name="replicaHost"/> (the test and benchmark host only) changes its services after
    /// the product's: fault-injection hooks, another <see cref="ICommitAuthority"/>.</summary>
    internal static WebApplication Build(string[] args, Action<IServiceCollection, IConfiguration>? replicaHost)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = [], ContentRootPath = AppContext.BaseDirectory });
        builder.Configuration.AddPipelineSources(args);
        builder.Services.AddPipelineServices(builder.Configuration);
        replicaHost?.Invoke(builder.Services, builder.Configuration);
        var pipeline = builder.Configuration.GetSection(PipelineOptions.Section).Get<PipelineOptions>() ?? new PipelineOptions();
        if (HttpEndpoint.DefaultUrls(builder.Configuration, pipeline) is { } urls)
        {
            builder.WebHost.UseUrls(urls);
        }

        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = pipeline.ShutdownTimeout);
        var app = builder.Build();
        app.MapPipelineEndpoints();
        return app;
    }

    /// <summary>Fault injection and the benchmark's comparison peer exist only in the test and benchmark replica host: the
    /// <c>run</c> verb calls this first, so a production start with any of their settings present stops before anything
    /// connects, naming the setting.</summary>
    internal static void RefuseReplicaHostSettings(IConfiguration configuration)
    {
        var found = configuration.AsEnumerable()
            .Where(kv => kv.Value is not null)
            .Select(kv => kv.Key)
            .Where(key => ReplicaHostSections.Any(section => key.StartsWith(section + ":", StringComparison.OrdinalIgnoreCase)))
            .Order(StringComparer.Ordinal)
            .ToList();
        if (found.Count > 0)
        {
            throw new InvalidOperationException(
                $"Refusing to start: {string.Join(", ", found)} {(found.Count == 1 ? "is a setting" : "are settings")} of the test and benchmark replica host " +
                "(fault injection, the comparison peer), not of the product; remove it from the environment and the configuration.");
        }
    }

    /// <summary>Everything a replica runs, with options validated at start (a wrong setting stops the host with its name).</summary>
    public static IServiceCollection AddPipelineServices(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<PipelineOptions>().Bind(configuration.GetSection(PipelineOptions.Section)).ValidateDataAnnotations()
            .Validate(o => o.CommitEndpointStopTimeout > TimeSpan.Zero && o.CommitEndpointStopTimeout < o.ShutdownTimeout,
                "Pipeline:CommitEndpointStopTimeout must be positive and below Pipeline:ShutdownTimeout.")
            .Validate(o => o.RedriveAge > TimeSpan.Zero && o.RedriveInterval > TimeSpan.Zero, "Pipeline:RedriveAge and Pipeline:RedriveInterval must be positive.")
            .Validate(o => o.CommitStallLimit >= TimeSpan.FromSeconds(1), "Pipeline:CommitStallLimit must be at least one second.")
            .Validate(o => o.IntakeBatchTimeLimit > TimeSpan.Zero && o.IntakeBatchTimeLimit <= TimeSpan.FromSeconds(10), "Pipeline:IntakeBatchTimeLimit must be positive and at most 10 s.")
            .ValidateOnStart();
        services.AddOptions<ZooKeeperOptions>().Bind(configuration.GetSection(ZooKeeperOptions.Section)).ValidateDataAnnotations()
            .Validate(o => o.SessionTimeout > TimeSpan.Zero, "ZooKeeper:SessionTimeout must be positive.")
            .Validate(o => o.IdentityProblem() is null, "ZooKeeper identity: set ZooKeeper:DigestUser and ZooKeeper:DigestPassword, or ZooKeeper:AllowOpenElectionPath=true.")
            .ValidateOnStart();
        services.AddOptions<RabbitMqOptions>().Bind(configuration.GetSection(RabbitMqOptions.Section)).ValidateDataAnnotations().ValidateOnStart();

        var connectionString = configuration.InventoryConnectionString();
        var pipeline = configuration.GetSection(PipelineOptions.Section).Get<PipelineOptions>() ?? new PipelineOptions();
        var committerOptions = new FencedCommitterOptions();
        configuration.GetSection("Commit").Bind(committerOptions);
        services.AddSingleton(committerOptions);
        services.AddSingleton(_ => InventoryDataSource.Create(connectionString, committerOptions));
        services.AddSingleton(sp => new FencedCommitter(sp.GetRequiredService<NpgsqlDataSource>(), committerOptions, sp.GetRequiredService<ILogger<FencedCommitter>>()));
        services.AddSingleton(sp => new OrderIntakeStore(sp.GetRequiredService<NpgsqlDataSource>()));
        services.AddSingleton(sp => new UndecidedOrders(sp.GetRequiredService<NpgsqlDataSource>()));
        services.AddSingleton(sp => new FenceAdministration(sp.GetRequiredService<NpgsqlDataSource>()));
        services.AddSingleton<FenceStatus>();
        services.AddSingleton(sp => new LeaderSuccessions(sp.GetRequiredService<NpgsqlDataSource>()));
        services.AddSingleton(sp => new AdvisoryLockCrashSignal(connectionString, committerOptions.Resource, sp.GetRequiredService<ILogger<AdvisoryLockCrashSignal>>()));
        services.AddSingleton<CommitEndpoint>();
        services.AddSingleton<CommitBatcher>();
        services.AddSingleton<CommitPathWarmUp>();
        services.AddSingleton<PipelineMetrics>();

        var rabbit = configuration.GetSection(RabbitMqOptions.Section).Get<RabbitMqOptions>() ?? new RabbitMqOptions();
        services.AddPipelineMessaging(rabbit, pipeline);

        // Who may commit, in one place: the ZooKeeper election's leader, fenced by Postgres. Registered after the bus: hosted
        // services stop in reverse order, so a graceful stop stops the commit endpoint and resigns first (the successor
        // leads at once), and only then stops intake and the bus.
        services.AddSingleton<FencedLeadership>();
        services.AddSingleton<ICommitAuthority>(sp => sp.GetRequiredService<FencedLeadership>());
        services.AddHostedService(sp => sp.GetRequiredService<ICommitAuthority>());
        services.AddHostedService<UndecidedOrderRedrive>();
        services.AddSingleton<QueueDepths>();
        services.AddHostedService(sp => sp.GetRequiredService<QueueDepths>());
        services.AddPipelineDashboard();
        services.AddSingleton<CommitEndpointWatchdog>();
        services.AddHostedService(sp => sp.GetRequiredService<CommitEndpointWatchdog>());
        services.AddHealthChecks()
            .AddCheck<ZooKeeperHealthCheck>("zookeeper", tags: ["ready"])
            .AddCheck<FenceHealthCheck>("fence", tags: ["ready"])
            .AddCheck<CommitEndpointWatchdog>("commit-endpoint", tags: ["ready"])
            .AddCheck<DatabaseHealthCheck>("database", tags: ["ready"]);
        services.AddPipelineTelemetry(configuration, pipeline);
        return services;
    }
}

/// <summary>Ready only while the election can work: a candidate loop that runs, a ZooKeeper session that serves, and no
/// error the candidate cannot get past (a wrong identity, an unreachable ensemble), whose reason the check reports.</summary>
public sealed class ZooKeeperHealthCheck(FencedLeadership leadership) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(leadership.Candidate switch
        {
            null => HealthCheckResult.Unhealthy("the election candidate has not started"),
            { IsRunning: false } c when c.State != ElectionState.Stopped => HealthCheckResult.Unhealthy("the election candidate's loop ended"),
            { State: ElectionState.Failed } c => HealthCheckResult.Unhealthy($"the election candidate cannot take part: {c.FailureReason}"),
            { State: ElectionState.Suspended or ElectionState.Lost } c => HealthCheckResult.Unhealthy($"no ZooKeeper session ({c.State})"),
            { SessionId: 0 } c => HealthCheckResult.Unhealthy($"no ZooKeeper session yet ({c.State})"),
            var c => HealthCheckResult.Healthy($"session 0x{c.SessionId:x}, {c.State}"),
        });
}

/// <summary>Not ready while the fence holds a token no candidate of this election can reach: nobody can commit. While it
/// says so, each check reads the fence row again, so every replica sees an operator's reset, not only the next leader.</summary>
public sealed class FenceHealthCheck(FenceStatus fence, FenceAdministration administration, FencedCommitterOptions committer) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (fence.Current is { Blocked: true, OurToken: { } ours })
        {
            try
            {
                if ((await administration.ReadAsync(committer.Resource, cancellationToken)).Token.Generation <= ours.Generation)
                {
                    fence.Unblocked();
                }
            }
            catch (NpgsqlException)
            {
                // The database check reports an unreachable database; the fence stays as last seen.
            }
        }

        return fence.Current.Reason is { } blocked ? HealthCheckResult.Unhealthy(blocked) : HealthCheckResult.Healthy();
    }
}

/// <summary>Ready only while the inventory database answers.</summary>
public sealed class DatabaseHealthCheck(NpgsqlDataSource dataSource) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(3));
            await using var command = dataSource.CreateCommand("SELECT 1");
            await command.ExecuteScalarAsync(timeout.Token);
            return HealthCheckResult.Healthy();
        }
        catch (Exception ex) when (ex is NpgsqlException or OperationCanceledException or TimeoutException)
        {
            return HealthCheckResult.Unhealthy($"database: {ex.Message}");
        }
    }
}
