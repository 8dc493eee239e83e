using System.Collections;
using System.Diagnostics;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using OpenTelemetry;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Pipeline.Contracts;
using Pipeline.Inventory;
using Pipeline.OrderService.Commit;
using Pipeline.Testing;
using Pipeline.ZooKeeper.Client;

namespace Pipeline.OrderService.Tests.Telemetry;

/// <summary>
/// One replica in this process, run under credentials of this fixture's own (a PostgreSQL service-role password set on a
/// private server, a RabbitMQ user, a ZooKeeper digest identity, each random), with an in-memory exporter on its tracer
/// provider; a storefront publishes one order inside a span of its own and waits for the decision. The telemetry tests read
/// what that run exported: its spans, its resource, its <c>/metrics</c>.
/// </summary>
public sealed class TracedReplica : IAsyncLifetime
{
    public static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    /// <summary>The storefront's activity source (the test's stand-in for a storefront's own tracing).</summary>
    public static readonly ActivitySource Storefront = new("Pipeline.Tests.Storefront");

    private const string Sku = "OTEL-SKU";
    private PrivatePostgres? postgres;
    private InProcessReplicas? services;
    private RabbitMqUser? rabbitUser;
    private WebApplication? replica;
    private OrderBus? bus;
    private DigestCredential? digest;

    public SpanCollection Spans { get; } = new();

    public string OrderId { get; } = $"otel-{Guid.NewGuid():N}"[..20];

    /// <summary>An order intake refuses (a quantity of 0), published in a storefront span of its own.</summary>
    public string InvalidOrderId { get; } = $"otel-bad-{Guid.NewGuid():N}"[..24];

    /// <summary>The storefront's span the invalid order was published in.</summary>
    public ActivityContext InvalidCheckout { get; private set; }

    /// <summary>The storefront's span the order was published in.</summary>
    public ActivityContext Checkout { get; private set; }

    /// <summary>The passwords the replica runs with, by what they open.</summary>
    public IReadOnlyDictionary<string, string> Passwords { get; private set; } = new Dictionary<string, string>();

    public WebApplication Replica => replica ?? throw new InvalidOperationException("not started");

    public OrderBus Bus => bus ?? throw new InvalidOperationException("not started");

    public Resource Resource => Replica.Services.GetRequiredService<TracerProvider>().GetResource();

    public async Task InitializeAsync()
    {
        digest = new DigestCredential($"pipeline-otel-{Guid.NewGuid():N}"[..24], RandomSecret());
        var postgresPassword = RandomSecret();
        postgres = await PrivatePostgres.StartNewAsync();
        await using (var admin = new NpgsqlConnection(postgres.AdminConnectionString))
        {
            await admin.OpenAsync();
            await using var alter = new NpgsqlCommand($"ALTER ROLE {TestIdentities.ServiceRole} PASSWORD '{postgresPassword}'", admin);
            await alter.ExecuteNonQueryAsync();
        }

        services = new InProcessReplicas(new InventoryDatabaseFixture { ServerConnectionString = postgres.ConnectionString });
        await services.InitializeAsync();
        await InventoryDatabase.SeedStockAsync(services.Database.DataSource, [Sku], 100);
        rabbitUser = await RabbitMqUser.CreateAsync(services.VirtualHost, "otel", new RabbitMqPermissions(".*", ".*", ".*"));
        var rabbitPassword = Uri.UnescapeDataString(rabbitUser.AmqpUri.UserInfo.Split(':', 2)[1]);
        Passwords = new Dictionary<string, string>
        {
            ["PostgreSQL"] = postgresPassword,
            ["RabbitMQ"] = rabbitPassword,
            ["ZooKeeper digest"] = digest.Password,
        };

        var settings = new Dictionary<string, string>
        {
            ["ConnectionStrings:Inventory"] = new NpgsqlConnectionStringBuilder(services.Database.ServiceConnectionString) { Password = postgresPassword }.ConnectionString,
            ["RabbitMq:Username"] = rabbitUser.Name,
            ["RabbitMq:Password"] = rabbitPassword,
            ["ZooKeeper:DigestUser"] = digest.User,
            ["ZooKeeper:DigestPassword"] = digest.Password,
            ["Pipeline:RedriveInterval"] = "00:00:01", // the undecided-order gauges come from the leader's sweep
        };
        replica = services.Build("otel-1", settings, services: s => s.AddOpenTelemetry().WithTracing(t => t.AddSource(Storefront.Name).AddInMemoryExporter(Spans)));
        await replica.StartReadyAsync();
        var leadership = replica.Services.GetRequiredService<FencedLeadership>();
        await Eventually.TrueAsync(() => Task.FromResult(leadership.Current is { IsRevoked: false }), Wait, "the replica to lead with the fence taken");

        bus = await OrderBus.StartAsync(services.VirtualHost.AmqpUri);
        using (var checkout = Storefront.StartActivity("storefront checkout", ActivityKind.Internal))
        {
            Assert.NotNull(checkout); // the replica's tracer provider listens to the storefront's source
            Checkout = checkout.Context;
            await bus.PublishAsync(Workload.Order(OrderId, (Sku, 2)));
        }

        using (var checkout = Storefront.StartActivity("storefront checkout", ActivityKind.Internal))
        {
            InvalidCheckout = checkout!.Context;
            await bus.PublishAsync(Workload.Order(InvalidOrderId, (Sku, 0)));
        }

        await bus.Events.WaitForAllAsync([OrderId, InvalidOrderId], Wait);
    }

    public async Task DisposeAsync()
    {
        if (bus is not null)
        {
            await bus.DisposeAsync();
        }

        if (replica is not null)
        {
            await replica.StopAsync();
            await replica.DisposeAsync();
        }

        if (rabbitUser is not null)
        {
            await rabbitUser.DisposeAsync();
        }

        if (services is not null)
        {
            // The election path belongs to this fixture's identity: only it may delete what lies under it.
            var options = services.Chroot.Options();
            options.Credentials.Add(digest!);
            await using (var zk = await ZooKeeperClient.ConnectAsync(options))
            {
                await zk.DeleteRecursiveAsync("/pipeline");
            }

            await services.DisposeAsync();
        }

        if (postgres is not null)
        {
            await postgres.DisposeAsync();
        }
    }

    /// <summary>The replica's <c>/metrics</c> text.</summary>
    public async Task<string> ScrapeAsync()
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var url = Replica.Urls.First().Replace("0.0.0.0", "127.0.0.1", StringComparison.Ordinal).Replace("[::]", "127.0.0.1", StringComparison.Ordinal);
        return await http.GetStringAsync(new Uri(new Uri(url), "/metrics"));
    }

    private static string RandomSecret() => "s" + Convert.ToHexString(RandomNumberGenerator.GetBytes(16)).ToLowerInvariant();
}

/// <summary>The exported spans, safe to read while the exporter adds to them.</summary>
public sealed class SpanCollection : ICollection<Activity>
{
    private readonly List<Activity> spans = [];
    private readonly Lock gate = new();

    public int Count
    {
        get
        {
            lock (gate)
            {
                return spans.Count;
            }
        }
    }

    public bool IsReadOnly => false;

    /// <summary>A copy of the spans exported so far.</summary>
    public IReadOnlyList<Activity> Snapshot()
    {
        lock (gate)
        {
            return [.. spans];
        }
    }

    public void Add(Activity item)
    {
        lock (gate)
        {
            spans.Add(item);
        }
    }

    public void Clear()
    {
        lock (gate)
        {
            spans.Clear();
        }
    }

    public bool Contains(Activity item) => Snapshot().Contains(item);

    public void CopyTo(Activity[] array, int arrayIndex) => Snapshot().ToList().CopyTo(array, arrayIndex);

    public bool Remove(Activity item)
    {
        lock (gate)
        {
            return spans.Remove(item);
        }
    }

    public IEnumerator<Activity> GetEnumerator() => Snapshot().GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
