using System.Diagnostics;
using System.Globalization;
using MassTransit;
using Pipeline.Contracts;
using Pipeline.Inventory;
using Pipeline.Inventory.Commit;

namespace Pipeline.OrderService.Cli;

/// <summary>The <c>publish</c> verb: a storefront's stream of OrderSubmitted, durable and confirmed, optionally paced.</summary>
internal static class Publisher
{
    public static async Task<int> RunAsync(CommandLine options, string[] args)
    {
        var count = options.GetInt("orders", 1000, 1, 10_000_000);
        var rate = options.GetDouble("rate", 0, 0, 1_000_000);
        var lines = options.GetInt("lines", 2, 1, 50);
        var invalidRatio = options.GetDouble("invalid-ratio", 0, 0, 1);
        var skus = options.GetInt("skus", 100, 1, 1_000_000);
        var prefix = options.GetString("prefix") ?? $"o-{Guid.NewGuid().ToString("N")[..6]}";
        if (!OrderValidation.IsUsableId(OrderId(prefix, count - 1)))
        {
            // Refused here rather than published: the intake parks every order without a usable id in order-intake_error.
            throw new ArgumentException($"--prefix '{OrderValidation.Printable(prefix, 40)}' makes order ids the intake cannot record (see OrderValidation.IsUsableId).");
        }

        var idsFile = options.GetString("ids-file");
        var random = new Random(options.GetInt("seed", Environment.TickCount));
        var skuNames = InventoryDatabase.SkuNames(skus).ToArray();

        var bus = BusFactory.Create(Verbs.Configuration(args));
        await bus.StartAsync(new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token);
        var published = 0;
        var invalid = 0;
        var ids = idsFile is null ? null : new List<string>(count);
        var clock = Stopwatch.StartNew();
        var progress = new ProgressBar("publish", count);
        try
        {
            using var inFlight = new SemaphoreSlim(64);
            var tasks = new List<Task>();
            for (var i = 0; i < count; i++)
            {
                if (rate > 0)
                {
                    var due = TimeSpan.FromSeconds(i / rate) - clock.Elapsed;
                    if (due > TimeSpan.Zero)
                    {
                        await Task.Delay(due);
                    }
                }

                var order = NewOrder(OrderId(prefix, i), random, skuNames, lines, random.NextDouble() < invalidRatio);
                if (OrderValidation.Validate(order.OrderId, order.CustomerId, order.Lines).Problem is not null)
                {
                    invalid++;
                }

                ids?.Add(order.OrderId);
                await inFlight.WaitAsync();
                tasks.Add(PublishAsync(bus, order, inFlight, () => progress.Report(Interlocked.Increment(ref published))));
                if (tasks.Count >= 1024)
                {
                    tasks.RemoveAll(t => t.IsCompletedSuccessfully);
                }
            }

            await Task.WhenAll(tasks);
        }
        finally
        {
            progress.Done();
            await bus.StopAsync();
        }

        if (idsFile is not null)
        {
            await File.WriteAllLinesAsync(idsFile, ids!);
        }

        var seconds = clock.Elapsed.TotalSeconds;
        Console.WriteLine($"published {published} orders ({invalid} invalid) in {seconds:0.0} s: {published / seconds:0} orders/s, prefix {prefix}");
        return published == count ? 0 : 1;
    }

    private static async Task PublishAsync(IBus bus, OrderSubmitted order, SemaphoreSlim inFlight, Action done)
    {
        try
        {
            await bus.Publish(order);
            done();
        }
        finally
        {
            inFlight.Release();
        }
    }

    private static string OrderId(string prefix, int index) => string.Create(CultureInfo.InvariantCulture, $"{prefix}-{index:0000000}");

    private static OrderSubmitted NewOrder(string id, Random random, string[] skus, int lines, bool invalid)
    {
        var orderLines = Enumerable.Range(0, random.Next(1, lines + 1))
            .Select(_ => new OrderLine { Sku = skus[random.Next(skus.Length)], Quantity = random.Next(1, 4) })
            .ToList();
        if (invalid)
        {
            orderLines = random.Next(2) == 0 ? [] : [.. orderLines.Select(l => l with { Quantity = 0 })];
        }

        return new OrderSubmitted { OrderId = id, CustomerId = $"c-{random.Next(1000)}", Lines = orderLines, SubmittedAt = DateTimeOffset.UtcNow };
    }
}
