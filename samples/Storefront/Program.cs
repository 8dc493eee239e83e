using System.Diagnostics;
using System.Globalization;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Pipeline.Contracts;

namespace Pipeline.Storefront;

/// <summary>
/// A storefront as a team would write one: publishes <see cref="StorefrontOptions.Orders"/> orders and waits for each one's
/// decision on a durable queue of its own. Exit codes: 0 every order decided within the timeout; 1 some order undecided (the
/// timeout, a stop request, or an id conflict); 2 unusable settings; 3 the broker refused or could not be reached.
/// </summary>
internal static class Program
{
    public const int AllDecided = 0;
    public const int NotAllDecided = 1;
    public const int BadSettings = 2;
    public const int BrokerFailure = 3;

    public static async Task<int> Main(string[] args)
    {
        // The content root is the application's folder, so appsettings.json is found from any working directory.
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = args, ContentRootPath = AppContext.BaseDirectory });
        var options = new StorefrontOptions();
        builder.Configuration.GetSection(StorefrontOptions.Section).Bind(options);
        if (options.Problems() is { Count: > 0 } problems)
        {
            foreach (var problem in problems)
            {
                await Console.Error.WriteLineAsync("storefront: " + problem);
            }

            return BadSettings;
        }

        var log = new DecisionLog();
        builder.Services.AddSingleton(log);
        builder.Services.Configure<MassTransitHostOptions>(o =>
        {
            o.WaitUntilStarted = true;
            o.StartTimeout = TimeSpan.FromSeconds(30);
            o.StopTimeout = TimeSpan.FromSeconds(10);
        });
        builder.Services.AddMassTransit(x =>
        {
            // Nothing leaves this process but AMQP to the broker: no usage report to MassTransit's servers.
            x.DisableUsageTelemetry();
            x.AddConsumer<DecisionConsumer>();
            x.UsingRabbitMq((context, cfg) =>
            {
                var (host, port, virtualHost, user, password) = options.Broker();
                cfg.Host(host, port, virtualHost, h =>
                {
                    h.Username(user);
                    h.Password(password);
                    h.PublisherConfirmation = true;
                });
                cfg.ReceiveEndpoint(options.DecisionQueue, e =>
                {
                    // A consumer that throws parks the event in <queue>_error; a Fault<T> event would need an exchange the
                    // storefront user may not declare, and nobody consumes it.
                    e.PublishFaults = false;
                    e.ConfigureConsumer<DecisionConsumer>(context);
                });
            });
        });

        using var host = builder.Build();
        var stopping = host.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping;
        try
        {
            try
            {
                await host.StartAsync(stopping);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                await Console.Error.WriteLineAsync($"storefront: could not start the bus on {Redacted(options.RabbitMq!)}: {ex.Message}");
                return BrokerFailure;
            }

            return await RunAsync(host.Services.GetRequiredService<IBus>(), options, log, stopping);
        }
        finally
        {
            await host.StopAsync(CancellationToken.None);
        }
    }

    private static async Task<int> RunAsync(IBus bus, StorefrontOptions options, DecisionLog log, CancellationToken stopping)
    {
        var prefix = string.IsNullOrWhiteSpace(options.OrderIdPrefix)
            ? string.Create(CultureInfo.InvariantCulture, $"sample-{DateTime.UtcNow:yyyyMMddHHmmss}-{Guid.NewGuid().ToString("N")[..6]}")
            : options.OrderIdPrefix;
        var orders = Enumerable.Range(0, options.Orders).Select(i => NewOrder(prefix, i, options)).ToList();
        log.Expect(orders.Select(o => o.OrderId));

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        deadline.CancelAfter(options.Timeout);
        var clock = Stopwatch.StartNew();
        Console.WriteLine($"publishing {orders.Count} orders {orders[0].OrderId} .. {orders[^1].OrderId} to {Redacted(options.RabbitMq!)}, decisions on queue {options.DecisionQueue}");
        try
        {
            // Each publish waits for the broker's confirm: a returned task means the order is stored on the broker.
            await Parallel.ForEachAsync(orders, new ParallelOptions { MaxDegreeOfParallelism = 32, CancellationToken = deadline.Token },
                async (order, cancellationToken) => await bus.Publish(order, cancellationToken));
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested)
        {
            await Console.Error.WriteLineAsync($"storefront: {(stopping.IsCancellationRequested ? "stopped" : $"timed out after {options.Timeout}")} while publishing");
            return NotAllDecided;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            await Console.Error.WriteLineAsync($"storefront: publishing failed: {ex.Message}");
            return BrokerFailure;
        }

        var published = clock.Elapsed;
        Console.WriteLine($"published {orders.Count} orders in {published.TotalSeconds:0.0} s");
        var settled = await log.WaitSettledAsync(deadline.Token);
        Console.WriteLine($"decided {log.Decided} of {log.Expected} orders in {clock.Elapsed.TotalSeconds:0.0} s: {log.Confirmed} confirmed, {log.Rejected} rejected; " +
            $"{log.Repeats} repeated deliveries and {log.Foreign} decisions of other orders ignored");
        if (log.Conflicts.Count > 0)
        {
            await Console.Error.WriteLineAsync($"storefront: {log.Conflicts.Count} orders were refused because their ids were already taken: " +
                string.Join(", ", log.Conflicts.Select(c => c.OrderId).Order(StringComparer.Ordinal).Take(10)));
            return NotAllDecided;
        }

        if (!settled)
        {
            var undecided = log.Undecided(10);
            await Console.Error.WriteLineAsync($"storefront: {(stopping.IsCancellationRequested ? "stopped" : $"timed out after {options.Timeout}")} with " +
                $"{log.Expected - log.Decided} orders undecided, e.g. {string.Join(", ", undecided)}");
            return NotAllDecided;
        }

        return AllDecided;
    }

    /// <summary>Order <paramref name="index"/>: one or two lines, one unit each, SKUs taken in turn.</summary>
    private static OrderSubmitted NewOrder(string prefix, int index, StorefrontOptions options)
    {
        var skus = options.Skus;
        var lines = new List<OrderLine> { new() { Sku = skus[index % skus.Count], Quantity = 1 } };
        if (index % 2 == 1 && skus.Count > 1)
        {
            lines.Add(new OrderLine { Sku = skus[(index + 1) % skus.Count], Quantity = 1 });
        }

        return new OrderSubmitted
        {
            OrderId = string.Create(CultureInfo.InvariantCulture, $"{prefix}-{index:000000}"),
            CustomerId = options.CustomerId,
            Lines = lines,
            SubmittedAt = DateTimeOffset.UtcNow,
        };
    }

    /// <summary>The broker's address without the password, for messages.</summary>
    private static string Redacted(Uri uri) => new UriBuilder(uri) { Password = "" }.Uri.ToString();
}
