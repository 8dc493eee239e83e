using Microsoft.Extensions.Configuration;
using Npgsql;
using Pipeline.Inventory;
using Pipeline.Inventory.Commit;
using Pipeline.Inventory.Verification;
using Pipeline.OrderService.Configuration;

namespace Pipeline.OrderService.Cli;

/// <summary>A CLI verb: its name, help and action (parsed options, raw arguments for configuration overrides).</summary>
public sealed record Verb(string Name, string Summary, string Usage, Func<CommandLine, string[], Task<int>> RunAsync);

public static class Verbs
{
    public static IReadOnlyList<Verb> All { get; } =
    [
        new("run", "run a replica: intake on every replica, the commit endpoint on the elected leader; HTTP health, status, metrics", "[--Section:Key=value ...]", RunAsync),
        new("migrate", "apply the database migrations as the owner role; with --grant-to, give the service role what a replica needs", "[--grant-to ROLE]", MigrateAsync),
        new("seed", "add stock (as the owner role): N SKUs (SKU-00001 ...) with Q units each", "--skus N --stock Q", SeedAsync),
        new("publish", "publish N orders as a storefront would, with a progress bar and a summary", "--orders N [--rate R] [--lines L] [--invalid-ratio X] [--skus N] [--prefix P]", Publisher.RunAsync),
        new("status", "who leads with which token, the candidates, queue depths, decided counts", "", StatusVerb.RunAsync),
        new("verify", "check the invariants in the database; exit 3 on any violation", "[--published IDS_FILE] [--not-drained]", VerifyAsync),
        new("watch", "print decisions (OrderConfirmed, OrderRejected) as they happen", "[--count N]", Watcher.RunAsync),
        new("healthcheck", "exit 0 when the replica on this host is ready (its own /health/ready), 1 with the reason otherwise",
            "[--timeout SECONDS]", HealthcheckVerb.RunAsync),
        new("fence-reset", "move a fence left ahead of the election (ensemble rebuilt, path moved) to the current leader's token; audited",
            "[--confirm --reason TEXT] [--operator NAME]", FenceResetVerb.RunAsync),
    ];

    public static IConfiguration Configuration(string[] args)
    {
        var builder = new ConfigurationBuilder().SetBasePath(AppContext.BaseDirectory).AddJsonFile("appsettings.json", optional: true);
        builder.AddPipelineSources(args);
        return builder.Build();
    }

    private static async Task<int> RunAsync(CommandLine options, string[] args)
    {
        var configuration = Configuration(args);
        ServiceHost.RefuseReplicaHostSettings(configuration);
        await Preflight.CheckAsync(configuration);
        var app = ServiceHost.Build(args);
        await app.RunAsync();
        return 0;
    }

    private static async Task<int> MigrateAsync(CommandLine options, string[] args)
    {
        var owner = Configuration(args).InventoryOwnerConnectionString();
        await InventoryDatabase.MigrateAsync(owner);
        if (options.GetString("grant-to") is { Length: > 0 } role)
        {
            await InventoryDatabase.GrantServiceRoleAsync(owner, role);
            Console.WriteLine($"granted {role} what a replica needs: no DDL, no deletes, no changes to the ledger, the audit or the fence");
        }

        Console.WriteLine("migrations applied");
        return 0;
    }

    private static async Task<int> SeedAsync(CommandLine options, string[] args)
    {
        var skus = options.GetInt("skus", 100, 1, 1_000_000);
        var stock = options.GetInt("stock", 1000, 0, 1_000_000_000);
        await using var dataSource = InventoryDataSource.Create(Configuration(args).InventoryOwnerConnectionString());
        await InventoryDatabase.SeedStockAsync(dataSource, InventoryDatabase.SkuNames(skus), stock);
        Console.WriteLine($"seeded {skus} SKUs with {stock} units each");
        return 0;
    }

    private static async Task<int> VerifyAsync(CommandLine options, string[] args)
    {
        await using var dataSource = InventoryDataSource.Create(Configuration(args).InventoryConnectionString());
        var published = options.GetString("published") is { } file ? await File.ReadAllLinesAsync(file) : null;
        var report = await new InvariantChecker(dataSource).VerifyAsync(drained: !options.Has("not-drained"), published);
        Console.WriteLine($"orders {report.Orders}, undecided {report.Undecided}, ledger rows {report.LedgerRows}, fence rejections {report.FenceRejections}");
        Console.WriteLine(report);
        Console.WriteLine(report.AllHold ? "verify: every invariant holds" : "verify: VIOLATIONS");
        return report.AllHold ? 0 : 3;
    }
}
