using System.CommandLine;
using Pipeline.Inventory;
using Pipeline.Inventory.Commit;
using Pipeline.OrderService.Configuration;

namespace Pipeline.OrderService.Cli;

/// <summary>The <c>seed</c> verb: adds stock to SKU-00001..N as the owner role, in batches with a progress bar on stderr.
/// Each batch commits on its own and Ctrl+C stops between batches, so an interrupted seed has added exactly what it reports.</summary>
internal static class SeedVerb
{
    private const int BatchSize = 10_000;

    public static Command Command(string[] settings)
    {
        var skus = CliOptions.Int("--skus", "how many SKUs: SKU-00001..N", 100, 1, 1_000_000);
        var stock = CliOptions.Int("--stock", "units added to each SKU", 1000, 0, 1_000_000_000);
        var command = Verbs.Verb("seed", "Add stock as the owner role: Q units to each of SKU-00001..N (added to what is there).");
        command.Options.Add(skus);
        command.Options.Add(stock);
        command.SetAction((parse, cancellationToken) => RunAsync(settings, parse.GetValue(skus), parse.GetValue(stock), cancellationToken));
        return command;
    }

    private static async Task<int> RunAsync(string[] settings, int skus, int stock, CancellationToken cancellationToken)
    {
        var configuration = Verbs.Configuration(settings);
        var owner = configuration.InventoryOwnerConnectionString();
        await Reachability.PostgresAsync(owner, Verbs.OwnerSetting(configuration), cancellationToken);
        await using var dataSource = InventoryDataSource.Create(owner);
        var names = InventoryDatabase.SkuNames(skus).ToArray();
        var seeded = 0;
        await using (var progress = ProgressBar.Start("seed", skus))
        {
            foreach (var batch in names.Chunk(BatchSize))
            {
                if (cancellationToken.IsCancellationRequested)
                {
                    break;
                }

                // Not cancelled midway: a statement cancelled as it commits may or may not have added its stock.
                await InventoryDatabase.SeedStockAsync(dataSource, batch, stock, CancellationToken.None);
                seeded += batch.Length;
                progress.Advance(batch.Length);
            }
        }

        if (seeded < skus)
        {
            Console.WriteLine($"interrupted: seeded {seeded} of {skus} SKUs with {stock} units each");
            return Interruption.ExitCode;
        }

        Console.WriteLine($"seeded {skus} SKUs with {stock} units each");
        return 0;
    }
}
