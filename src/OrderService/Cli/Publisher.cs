using System.Collections.Concurrent;
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using MassTransit;
using Pipeline.Contracts;
using Pipeline.Inventory;
using Pipeline.Inventory.Commit;
using Pipeline.OrderService.Configuration;

namespace Pipeline.OrderService.Cli;

/// <summary>The <c>publish</c> verb: a storefront's stream of OrderSubmitted, durable and confirmed, optionally paced. Ctrl+C
/// stops it cleanly: no new orders, the outstanding confirms awaited for a short while (then abandoned), the ids file
/// written with what the broker confirmed, the summary printed, exit 130.</summary>
internal static class Publisher
{
    /// <summary>How long an interrupted publish waits for the confirms still outstanding before it abandons them.</summary>
    private static readonly TimeSpan ConfirmGrace = TimeSpan.FromSeconds(10);

    private const int MaxInFlight = 64;

    public static Command Command(string[] settings)
    {
        var orders = CliOptions.Int("--orders", "how many orders to publish", 1000, 1, 10_000_000);
        var rate = CliOptions.Number("--rate", "orders per second at most; 0: as fast as the broker confirms", 0, 0, 1_000_000);
        var lines = CliOptions.Int("--lines", "lines per order at most (each order has 1 to L, 1 to 3 units each)", 2, 1, 50);
        var invalidRatio = CliOptions.Number("--invalid-ratio", "share of orders made invalid on purpose (no lines, or zero quantities)", 0, 0, 1);
        var skus = CliOptions.Int("--skus", "lines name SKU-00001..N", 100, 1, 1_000_000);
        var prefix = CliOptions.Text("--prefix", "order ids are PREFIX-0000000, PREFIX-0000001, ... (default: o- and 6 random hex digits)", "PREFIX");
        var idsFile = CliOptions.Text("--ids-file", "write the ids the broker confirmed, one a line, in order (also after Ctrl+C; for verify --published)", "FILE");
        var seed = new Option<int?>("--seed") { Description = "seed of the random orders, for a repeatable run (default: a new one each run)", HelpName = "N" };
        var command = Verbs.Verb("publish", "Publish orders as a storefront would (persistent, confirmed), with progress on stderr and a summary on stdout. " +
                                            "Ctrl+C stops cleanly: the ids file holds what was confirmed; exit 130.");
        command.Options.Add(orders);
        command.Options.Add(rate);
        command.Options.Add(lines);
        command.Options.Add(invalidRatio);
        command.Options.Add(skus);
        command.Options.Add(prefix);
        command.Options.Add(idsFile);
        command.Options.Add(seed);
        command.Validators.Add(result =>
        {
            // Refused here rather than published: the intake parks every order without a usable id in order-intake_error.
            if (result.GetValue(prefix) is { } chosen && !OrderValidation.IsUsableId(OrderId(chosen, Math.Max(result.GetValue(orders), 1) - 1)))
            {
                result.AddError($"--prefix '{OrderValidation.Printable(chosen, 40)}' makes order ids the intake cannot record (see OrderValidation.IsUsableId).");
            }
        });
        command.SetAction((parse, cancellationToken) => RunAsync(settings, new Plan(
            parse.GetValue(orders), parse.GetValue(rate), parse.GetValue(lines), parse.GetValue(invalidRatio), parse.GetValue(skus),
            parse.GetValue(prefix) ?? $"o-{Guid.NewGuid().ToString("N")[..6]}", parse.GetValue(idsFile), parse.GetValue(seed) ?? Environment.TickCount), cancellationToken));
        return command;
    }

    private static async Task<int> RunAsync(string[] settings, Plan plan, CancellationToken interrupted)
    {
        var configuration = Verbs.Configuration(settings);
        var rabbit = configuration.GetSection(RabbitMqOptions.Section).Get<RabbitMqOptions>() ?? new RabbitMqOptions();
        await Reachability.RabbitMqAsync(rabbit, interrupted);
        var bus = BusFactory.Create(configuration);
        using (var startLimit = CancellationTokenSource.CreateLinkedTokenSource(interrupted))
        {
            startLimit.CancelAfter(TimeSpan.FromSeconds(30));
            await bus.StartAsync(startLimit.Token);
        }

        var random = new Random(plan.Seed);
        var skuNames = InventoryDatabase.SkuNames(plan.Skus).ToArray();
        var confirmed = new ConcurrentBag<string>();
        var invalid = 0;
        Exception? failure = null;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(interrupted);
        using var abandon = new CancellationTokenSource();
        var clock = Stopwatch.StartNew();
        await using (var progress = ProgressBar.Start("publish", plan.Orders))
        {
            using var inFlight = new SemaphoreSlim(MaxInFlight);
            var tasks = new List<Task>();
            async Task PublishAsync(OrderSubmitted order, bool isInvalid)
            {
                try
                {
                    await bus.Publish(order, abandon.Token);
                    confirmed.Add(order.OrderId);
                    if (isInvalid)
                    {
                        Interlocked.Increment(ref invalid);
                    }

                    progress.Advance();
                }
                catch (Exception ex) when (!abandon.IsCancellationRequested)
                {
                    Interlocked.CompareExchange(ref failure, ex, null);
                    await stop.CancelAsync();
                }
                finally
                {
                    inFlight.Release();
                }
            }

            try
            {
                for (var i = 0; i < plan.Orders; i++)
                {
                    if (plan.Rate > 0 && TimeSpan.FromSeconds(i / plan.Rate) - clock.Elapsed is { Ticks: > 0 } due)
                    {
                        await Task.Delay(due, stop.Token);
                    }

                    await inFlight.WaitAsync(stop.Token);
                    var order = NewOrder(OrderId(plan.Prefix, i), random, skuNames, plan.Lines, random.NextDouble() < plan.InvalidRatio);
                    tasks.Add(PublishAsync(order, OrderValidation.Validate(order.OrderId, order.CustomerId, order.Lines).Problem is not null));
                    if (tasks.Count >= 1024)
                    {
                        tasks.RemoveAll(t => t.IsCompleted);
                    }
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                // Interrupted or failed: no new orders; what is outstanding is awaited below.
            }

            await SettleAsync(tasks, stop.IsCancellationRequested ? ConfirmGrace : Timeout.InfiniteTimeSpan, abandon);
        }

        var seconds = clock.Elapsed.TotalSeconds;
        using (var stopLimit = new CancellationTokenSource(TimeSpan.FromSeconds(10)))
        {
            await bus.StopAsync(stopLimit.Token);
        }

        var ids = confirmed.Order(StringComparer.Ordinal).ToList();
        if (plan.IdsFile is not null)
        {
            await File.WriteAllLinesAsync(plan.IdsFile, ids, CancellationToken.None);
        }

        var outcome = interrupted.IsCancellationRequested ? "interrupted: published" : failure is null ? "published" : "failed: published";
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{outcome} {ids.Count} of {plan.Orders} orders ({invalid} invalid) in {seconds:0.0} s: {ids.Count / Math.Max(seconds, 0.001):0} orders/s, prefix {plan.Prefix}"));
        if (failure is not null)
        {
            await Console.Error.WriteLineAsync($"publish: {Reachability.OneLine(failure)}");
            return CliApplication.Failed;
        }

        return interrupted.IsCancellationRequested ? Interruption.ExitCode : 0;
    }

    /// <summary>Waits for the outstanding publishes; past <paramref name="grace"/> abandons them (they count as not confirmed).</summary>
    private static async Task SettleAsync(List<Task> tasks, TimeSpan grace, CancellationTokenSource abandon)
    {
        var all = Task.WhenAll(tasks);
        if (await Task.WhenAny(all, Task.Delay(grace)) != all)
        {
            await abandon.CancelAsync();
        }

        await all.ContinueWith(_ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
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

    private sealed record Plan(int Orders, double Rate, int Lines, double InvalidRatio, int Skus, string Prefix, string? IdsFile, int Seed);
}
