using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;
using Pipeline.Inventory.Commit;
using Pipeline.OrderService;
using Pipeline.OrderService.Cli;
using Pipeline.OrderService.Commit;
using Pipeline.ReplicaHost.Comparison;
using Pipeline.ReplicaHost.FaultInjection;

namespace Pipeline.ReplicaHost;

/// <summary>
/// <c>Pipeline.ReplicaHost run [--Section:Key=value ...]</c>: a replica exactly as <c>Pipeline.OrderService run</c> builds it,
/// then changed by the settings only this host reads: <c>FaultInjection:*</c> (<see cref="FaultInjectionHooks"/>) and
/// <c>Comparison:SingleActiveConsumer</c> (<see cref="SingleActiveConsumerAuthority"/>). The product refuses both sections.
/// </summary>
public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        if (args is not ["run", .. var rest])
        {
            await Console.Error.WriteLineAsync("usage: Pipeline.ReplicaHost run [--Section:Key=value ...]   (other verbs: Pipeline.OrderService)");
            return 2;
        }

        try
        {
            var configuration = Verbs.Configuration(rest);
            if (!configuration.GetValue<bool>("Comparison:SingleActiveConsumer"))
            {
                // The product's checks, which declare the commit queue as the product does; the peer declares its own.
                await Preflight.CheckAsync(configuration);
            }

            var app = ServiceHost.Build(rest, Configure);
            await app.RunAsync();
            return 0;
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or Microsoft.Extensions.Options.OptionsValidationException)
        {
            await Console.Error.WriteLineAsync($"run: {ex.Message}");
            return 1;
        }
    }

    private static void Configure(IServiceCollection services, IConfiguration configuration)
    {
        var faults = configuration.GetSection(FaultInjectionOptions.Section).Get<FaultInjectionOptions>() ?? new FaultInjectionOptions();
        services.AddSingleton(sp => new FencedCommitter(sp.GetRequiredService<NpgsqlDataSource>(), sp.GetRequiredService<FencedCommitterOptions>(),
            sp.GetRequiredService<ILogger<FencedCommitter>>(), new FaultInjectionHooks(faults, sp.GetRequiredService<ILogger<FaultInjectionHooks>>())));

        if (configuration.GetValue<bool>("Comparison:SingleActiveConsumer"))
        {
            // The commit queue must exist with its single-active-consumer argument before intake forwards to it: first.
            services.Insert(0, ServiceDescriptor.Singleton<IHostedService, SingleActiveConsumerQueue>());
            services.AddSingleton<SingleActiveConsumerAuthority>();
            services.Replace(ServiceDescriptor.Singleton<ICommitAuthority>(sp => sp.GetRequiredService<SingleActiveConsumerAuthority>()));

            // No election: the ZooKeeper and fence checks of the product's authority do not apply.
            services.Configure<HealthCheckServiceOptions>(o =>
            {
                foreach (var check in o.Registrations.Where(r => r.Name is "zookeeper" or "fence").ToList())
                {
                    o.Registrations.Remove(check);
                }
            });
        }
    }
}
