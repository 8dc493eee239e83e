using System.CommandLine;
using MassTransit;
using Pipeline.Contracts;
using Pipeline.OrderService.Configuration;

namespace Pipeline.OrderService.Cli;

/// <summary>The <c>watch</c> verb: a temporary queue bound to the decision events, printed as they arrive, until
/// <c>--count</c> decisions or Ctrl+C (which is how it is meant to end: exit 0).</summary>
internal static class Watcher
{
    public static Command Command(string[] settings)
    {
        var count = CliOptions.Int("--count", "stop after N decisions (default: until Ctrl+C)", int.MaxValue, 1, int.MaxValue);
        var command = Verbs.Verb("watch", "Print decisions (OrderConfirmed, OrderRejected) as they happen, until --count of them or Ctrl+C.");
        command.Options.Add(count);
        command.SetAction((parse, cancellationToken) => RunAsync(settings, parse.GetValue(count), cancellationToken));
        return command;
    }

    private static async Task<int> RunAsync(string[] settings, int limit, CancellationToken cancellationToken)
    {
        var configuration = Verbs.Configuration(settings);
        await Reachability.RabbitMqAsync(configuration.GetSection(RabbitMqOptions.Section).Get<RabbitMqOptions>() ?? new RabbitMqOptions(), cancellationToken);
        var seen = 0;
        using var done = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);

        void Count()
        {
            if (Interlocked.Increment(ref seen) >= limit)
            {
                done.Cancel();
            }
        }

        var bus = BusFactory.Create(configuration, cfg => cfg.ReceiveEndpoint(e =>
        {
            e.Handler<OrderConfirmed>(context =>
            {
                Console.WriteLine($"{context.Message.CommittedAt:HH:mm:ss.fff} CONFIRMED {context.Message.OrderId} by {context.Message.CommittedBy} token {context.Message.Token}");
                Count();
                return Task.CompletedTask;
            });
            e.Handler<OrderRejected>(context =>
            {
                Console.WriteLine($"{DateTimeOffset.UtcNow:HH:mm:ss.fff} REJECTED  {context.Message.OrderId} {context.Message.Reason}: {context.Message.Detail}");
                Count();
                return Task.CompletedTask;
            });
        }));
        await bus.StartAsync(cancellationToken);
        try
        {
            await Task.Delay(Timeout.Infinite, done.Token);
        }
        catch (OperationCanceledException)
        {
        }

        using var stopLimit = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await bus.StopAsync(stopLimit.Token);
        return 0;
    }
}
