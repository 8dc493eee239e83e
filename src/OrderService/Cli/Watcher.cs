using MassTransit;
using Pipeline.Contracts;

namespace Pipeline.OrderService.Cli;

/// <summary>The <c>watch</c> verb: a temporary queue bound to the decision events, printed as they arrive.</summary>
internal static class Watcher
{
    public static async Task<int> RunAsync(CommandLine options, string[] args)
    {
        var limit = options.GetInt("count", int.MaxValue, 1);
        var seen = 0;
        using var done = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            done.Cancel();
        };

        void Count()
        {
            if (Interlocked.Increment(ref seen) >= limit)
            {
                done.Cancel();
            }
        }

        var bus = BusFactory.Create(Verbs.Configuration(args), cfg => cfg.ReceiveEndpoint(e =>
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
        await bus.StartAsync();
        try
        {
            await Task.Delay(Timeout.Infinite, done.Token);
        }
        catch (OperationCanceledException)
        {
        }

        await bus.StopAsync();
        return 0;
    }
}
